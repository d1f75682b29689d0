"""encord-agents Runner agents, run unmodified against runner-host's emulator.

Stage `pre-label` reads each label row, adds a Vehicle box on frame 0 (image,
image group and video alike), sets a priority and routes "to triage".
Stage `triage` takes the storage item, downloads its media through signed URLs
(an image group's children in frame order), records the byte count in the
item's client metadata and routes "done". Then it reopens one label row and
moves it straight to `triage`. At the end the script prints one JSON line
summarising what it saw, for the test to check.

Environment: ENCORD_DOMAIN (the emulator), ENCORD_SSH_KEY_FILE, PROJECT_HASH.
"""

import json
import os

import requests
from encord.objects import Object
from encord.objects.coordinates import BoundingBoxCoordinates
from encord.objects.ontology_labels_impl import LabelRowV2
from encord.storage import StorageItem
from encord.workflow.stages.agent import AgentStage
from encord_agents.tasks import Runner
from encord_agents.tasks.models import TaskAgentReturnStruct

runner = Runner(project_hash=os.environ["PROJECT_HASH"])
downloads = {}


@runner.stage("pre-label")
def pre_label(lr: LabelRowV2) -> TaskAgentReturnStruct:
    vehicle = lr.ontology_structure.get_child_by_title("Vehicle", type_=Object)
    instance = vehicle.create_instance()
    instance.set_for_frames(
        coordinates=BoundingBoxCoordinates(height=0.25, width=0.5, top_left_x=0.1, top_left_y=0.2),
        frames=0,
    )
    lr.add_object_instance(instance)
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr, label_row_priority=0.25)


@runner.stage("triage")
def triage(storage_item: StorageItem) -> str:
    if storage_item.item_type.value == "imageGroup":
        children = list(storage_item.get_child_items(get_signed_urls=True))
        blobs = [requests.get(c.get_signed_url(), timeout=30).content for c in children]
        assert all(b.startswith(b"\x89PNG") for b in blobs), "children are PNGs"
    else:
        blobs = [requests.get(storage_item.get_signed_url(), timeout=30).content]
    size = sum(len(b) for b in blobs)
    downloads[storage_item.name] = size
    storage_item.update(client_metadata={"bytes": size, "frames": len(blobs)})
    return "done"


if __name__ == "__main__":
    runner(task_batch_size=7)
    metadata = {}
    for lr in runner.project.list_label_rows_v2():
        item = lr.get_storage_item()
        metadata[item.name] = item.client_metadata
    # The SDK's other workflow calls: reopen one row (back to the first
    # stage), then move every task there straight to `triage`.
    reopened = runner.project.list_label_rows_v2(data_title_eq="park-01.png")
    reopened[0].workflow_reopen()
    first = runner.project.workflow.get_stage(name="pre-label", type_=AgentStage)
    triage_stage = runner.project.workflow.get_stage(name="triage", type_=AgentStage)
    moved = 0
    for task in first.get_tasks():
        task.move(destination_stage_uuid=triage_stage.uuid)
        moved += 1
    print(json.dumps({"downloads": downloads, "metadata": metadata, "moved": moved}))
