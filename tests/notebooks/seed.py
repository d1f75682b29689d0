"""Labels the notebooks' ports start from, written with the official Encord
SDK over the emulator (as annotators would have): `python seed.py transfer`
answers the checklist of each source row by its title (`cat-dog.png` gets
Cat and Dog); `python seed.py birds` adds a Bird box to each row whose title
names a bird type (`bluejay-1.png` gets a Bluejay). PROJECT_HASH, and the
Encord domain and key, come from the environment.
"""

import os
import sys

from encord.objects import Classification, Object, Option
from encord.objects.coordinates import BoundingBoxCoordinates

from encord_agents.core.utils import get_user_client

project = get_user_client().get_project(os.environ["PROJECT_HASH"])
ontology = project.ontology_structure
rows = project.list_label_rows_v2()
for row in rows:
    row.initialise_labels()
    words = row.data_title.split(".")[0].split("-")
    if sys.argv[1] == "transfer":
        checklist = ontology.classifications[0]
        attribute = checklist.attributes[0]
        chosen = [o for o in attribute.options if o.title.lower() in words]
        if not chosen:
            continue
        instance = checklist.create_instance()
        instance.set_answer(chosen, attribute=attribute)
        instance.set_for_frames(frames=0)
        row.add_classification_instance(instance)
    else:
        bird = ontology.get_child_by_title("Bird", type_=Object)
        kind = bird.get_child_by_title("Type")
        types = [o for o in kind.options if o.title.lower() in words]
        if not types:
            continue
        instance = bird.create_instance()
        instance.set_for_frames(coordinates=BoundingBoxCoordinates(height=0.2, width=0.3, top_left_x=0.1, top_left_y=0.1), frames=0)
        instance.set_answer(types[0], attribute=kind)
        row.add_object_instance(instance)
    row.save()
print(f"seeded {len(rows)} rows")
