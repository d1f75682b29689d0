"""Label rows and ontologies, with the names of the Encord SDK.

`LabelRowV2`, `Object`, `Classification`, `ObjectInstance`,
`ClassificationInstance`, the attribute and option classes and the coordinate
classes behave like the `encord` package's for what task agents do with them:
find ontology items by title, create instances, place them on frames, answer
attributes, read what is there. The row stays Encord label-row JSON
throughout: keys this module does not model are written back as they came.

Objects and classifications are written exactly as runner-host's Rust SDK
writes them (same keys, same deterministic hashes), so an agent gives the
same label row in either language.
"""

from __future__ import annotations

import email.utils
import json
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Optional, Union


class LabelError(ValueError):
    """A label edit that the ontology or the row does not allow."""


class OntologyError(LabelError):
    """An ontology lookup that found nothing."""


# --------------------------------------------------------------------------
# Coordinates


@dataclass
class BoundingBoxCoordinates:
    height: float
    width: float
    top_left_x: float
    top_left_y: float

    _shape = "bounding_box"

    def _keys(self) -> dict:
        return {"boundingBox": {"h": self.height, "w": self.width, "x": self.top_left_x, "y": self.top_left_y}}


@dataclass
class RotatableBoundingBoxCoordinates:
    height: float
    width: float
    top_left_x: float
    top_left_y: float
    theta: float

    _shape = "rotatable_bounding_box"

    def _keys(self) -> dict:
        return {
            "rotatableBoundingBox": {
                "h": self.height,
                "w": self.width,
                "x": self.top_left_x,
                "y": self.top_left_y,
                "theta": self.theta,
            }
        }


@dataclass
class PointCoordinate:
    x: float
    y: float

    _shape = "point"

    def _keys(self) -> dict:
        return {"point": _point_map([self])}


@dataclass
class PolygonCoordinates:
    values: list = field(default_factory=list)

    _shape = "polygon"

    def _keys(self) -> dict:
        flat = [c for p in self.values for c in (p.x, p.y)]
        return {"polygon": _point_map(self.values), "polygons": [[flat]]}


@dataclass
class PolylineCoordinates:
    values: list = field(default_factory=list)

    _shape = "polyline"

    def _keys(self) -> dict:
        return {"polyline": _point_map(self.values)}


Coordinates = Union[
    BoundingBoxCoordinates,
    RotatableBoundingBoxCoordinates,
    PointCoordinate,
    PolygonCoordinates,
    PolylineCoordinates,
]


def _point_map(points) -> dict:
    return {str(i): {"x": p.x, "y": p.y} for i, p in enumerate(points)}


def _points(value) -> list:
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: int(kv[0]) if str(kv[0]).isdigit() else 0)
        return [PointCoordinate(x=v["x"], y=v["y"]) for _, v in items]
    if isinstance(value, list):
        return [PointCoordinate(x=v["x"], y=v["y"]) for v in value]
    return []


def _coordinates_from(shape: str, keys: dict) -> Optional[Coordinates]:
    try:
        if shape == "bounding_box":
            b = keys["boundingBox"]
            return BoundingBoxCoordinates(height=b["h"], width=b["w"], top_left_x=b["x"], top_left_y=b["y"])
        if shape == "rotatable_bounding_box":
            b = keys["rotatableBoundingBox"]
            return RotatableBoundingBoxCoordinates(
                height=b["h"], width=b["w"], top_left_x=b["x"], top_left_y=b["y"], theta=b.get("theta", 0.0)
            )
        if shape == "polygon":
            return PolygonCoordinates(values=_points(keys["polygon"]))
        if shape == "polyline":
            return PolylineCoordinates(values=_points(keys["polyline"]))
        if shape == "point":
            pts = _points(keys["point"])
            return pts[0] if pts else None
    except (KeyError, TypeError):
        return None
    return None


@dataclass(frozen=True)
class Range:
    """An inclusive frame range, as `encord.objects.frames.Range`."""

    start: int
    end: int


def _frames_of(frames) -> list[int]:
    """Frame numbers from an int, a Range, or a list of either."""
    if isinstance(frames, bool):
        raise LabelError(f"frames must be an int, a Range or a list of them, not {frames!r}")
    if isinstance(frames, int):
        out = [frames]
    elif isinstance(frames, Range):
        out = list(range(frames.start, frames.end + 1))
    else:
        out = []
        for f in frames:
            out.extend(_frames_of(f))
    for f in out:
        if f < 0:
            raise LabelError(f"frame {f} is negative")
    return sorted(set(out))


def _ranges_of(frames: list[int]) -> list[list[int]]:
    ranges: list[list[int]] = []
    for f in sorted(set(frames)):
        if ranges and ranges[-1][1] + 1 == f:
            ranges[-1][1] = f
        else:
            ranges.append([f, f])
    return ranges


# --------------------------------------------------------------------------
# Ontology


class Shape(str, Enum):
    BOUNDING_BOX = "bounding_box"
    ROTATABLE_BOUNDING_BOX = "rotatable_bounding_box"
    POLYGON = "polygon"
    POLYLINE = "polyline"
    POINT = "point"
    BITMASK = "bitmask"
    SKELETON = "skeleton"
    CUBOID = "cuboid"


class _Node:
    """Something in the ontology tree that `get_child_by_title` can find."""

    title: str = ""
    feature_node_hash: str = ""

    def _children(self) -> list["_Node"]:
        return []

    def _walk(self):
        for c in self._children():
            yield c
            yield from c._walk()

    def get_child_by_title(self, title: str, type_: Optional[type] = None):
        """The one item below this one titled `title` (of type `type_`);
        an error when there is none or more than one, as in the Encord SDK."""
        found = self.get_children_by_title(title, type_)
        kind = f" of type {type_.__name__}" if type_ else ""
        if len(found) > 1:
            raise OntologyError(f"more than one ontology item is titled `{title}`{kind}: pass type_ to tell them apart")
        if not found:
            raise OntologyError(f"no ontology item titled `{title}`{kind}; titles here: {self._titles()}")
        return found[0]

    def get_children_by_title(self, title: str, type_: Optional[type] = None) -> list:
        return [n for n in self._walk() if n.title == title and (type_ is None or isinstance(n, type_))]

    def get_child_by_hash(self, feature_node_hash: str, type_: Optional[type] = None):
        for node in self._walk():
            if node.feature_node_hash == feature_node_hash and (type_ is None or isinstance(node, type_)):
                return node
        raise OntologyError(f"no ontology item with feature hash `{feature_node_hash}`")

    def _titles(self) -> list[str]:
        return sorted({n.title for n in self._walk() if n.title})


class Option(_Node):
    """An answer option of a radio or checklist attribute."""

    def __init__(self, d: dict):
        self.label: str = d.get("label", "")
        self.title = self.label
        self.value: str = d.get("value", "")
        self.feature_node_hash = d.get("featureNodeHash", "")
        self.nested_options: list[Attribute] = [_attribute(a) for a in d.get("options", [])]

    def _children(self):
        return self.nested_options

    def __repr__(self) -> str:
        return f"Option({self.label!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Option) and other.feature_node_hash == self.feature_node_hash

    def __hash__(self) -> int:
        return hash(self.feature_node_hash)


class NestableOption(Option):
    """A radio option (may carry nested attributes)."""


class FlatOption(Option):
    """A checklist option."""


class Attribute(_Node):
    """An attribute of an object, or a classification's question."""

    kind = ""

    def __init__(self, d: dict):
        self.name: str = d.get("name", "")
        self.title = self.name
        self.feature_node_hash = d.get("featureNodeHash", "")
        self.required: bool = bool(d.get("required", False))
        self.dynamic: bool = bool(d.get("dynamic", False))
        option_class = NestableOption if d.get("type") == "radio" else FlatOption
        self.options: list[Option] = [option_class(o) for o in d.get("options", [])]

    def _children(self):
        return self.options

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class RadioAttribute(Attribute):
    kind = "radio"


class ChecklistAttribute(Attribute):
    kind = "checklist"


class TextAttribute(Attribute):
    kind = "text"


class NumericAttribute(Attribute):
    kind = "numeric"


def _attribute(d: dict) -> Attribute:
    cls = {
        "radio": RadioAttribute,
        "checklist": ChecklistAttribute,
        "text": TextAttribute,
        "numeric": NumericAttribute,
    }.get(d.get("type"), Attribute)
    return cls(d)


class Object(_Node):
    """An object type of the ontology (`encord.objects.Object`)."""

    def __init__(self, d: dict):
        self.name: str = d.get("name", "")
        self.title = self.name
        self.color: str = d.get("color", "")
        self.feature_node_hash = d.get("featureNodeHash", "")
        self.shape = Shape(d["shape"]) if d.get("shape") in Shape._value2member_map_ else d.get("shape")
        self.attributes: list[Attribute] = [_attribute(a) for a in d.get("attributes", [])]

    def _children(self):
        return self.attributes

    def create_instance(self) -> "ObjectInstance":
        return ObjectInstance(self)

    def __repr__(self) -> str:
        return f"Object({self.name!r})"


class Classification(_Node):
    """A classification of the ontology; its title is its question's name."""

    def __init__(self, d: dict):
        self.feature_node_hash = d.get("featureNodeHash", "")
        self.attributes: list[Attribute] = [_attribute(a) for a in d.get("attributes", [])]
        self.title = self.attributes[0].name if self.attributes else ""

    def _children(self):
        return self.attributes

    def create_instance(self) -> "ClassificationInstance":
        return ClassificationInstance(self)

    def __repr__(self) -> str:
        return f"Classification({self.title!r})"


class OntologyStructure(_Node):
    """The project's ontology: `objects` and `classifications`."""

    def __init__(self, d: dict):
        self.objects: list[Object] = [Object(o) for o in d.get("objects", [])]
        self.classifications: list[Classification] = [Classification(c) for c in d.get("classifications", [])]

    def _children(self):
        return [*self.objects, *self.classifications]

    @classmethod
    def from_dict(cls, d: dict) -> "OntologyStructure":
        return cls(d)


# --------------------------------------------------------------------------
# Answers


def _owner_attribute(attributes: list[Attribute], answer) -> Optional[Attribute]:
    """The attribute (nested ones included) that offers option `answer`."""
    options = answer if isinstance(answer, (list, tuple)) else [answer]
    for node in _walk_attributes(attributes):
        if any(o in node.options for o in options if isinstance(o, Option)):
            return node
    return None


def _walk_attributes(attributes: list[Attribute]):
    for a in attributes:
        yield a
        for o in a.options:
            yield from _walk_attributes(o.nested_options)


def _answer_entry(attribute: Attribute, answer) -> dict:
    """Encord's answer entry for `attribute`, as the Rust SDK writes it."""

    def option(o) -> dict:
        if isinstance(o, str):
            found = [x for x in attribute.options if x.label == o]
            if not found:
                raise LabelError(
                    f"`{o}` is not an option of `{attribute.name}`; options: {[x.label for x in attribute.options]}"
                )
            o = found[0]
        if not isinstance(o, Option) or o not in attribute.options:
            raise LabelError(f"{o!r} is not an option of `{attribute.name}`")
        return {"name": o.label, "value": o.value, "featureHash": o.feature_node_hash}

    if isinstance(attribute, RadioAttribute):
        if isinstance(answer, (list, tuple)):
            raise LabelError(f"`{attribute.name}` is a radio attribute: answer one option, not a list")
        answers: Any = [option(answer)]
    elif isinstance(attribute, ChecklistAttribute):
        items = answer if isinstance(answer, (list, tuple)) else [answer]
        answers = [option(o) for o in items]
    elif isinstance(attribute, TextAttribute):
        if not isinstance(answer, str):
            raise LabelError(f"`{attribute.name}` is a text attribute: answer a str, not {answer!r}")
        answers = answer
    elif isinstance(attribute, NumericAttribute):
        if isinstance(answer, bool) or not isinstance(answer, (int, float)):
            raise LabelError(f"`{attribute.name}` is a numeric attribute: answer a number, not {answer!r}")
        answers = float(answer)
    else:
        raise LabelError(f"attribute `{attribute.name}` has a type this SDK cannot answer")
    return {
        "name": attribute.name,
        "value": _snake(attribute.name),
        "featureHash": attribute.feature_node_hash,
        "answers": answers,
        "manualAnnotation": False,
    }


def _read_answer(attribute: Optional[Attribute], entry: dict):
    answers = entry.get("answers")
    if isinstance(answers, list):
        if attribute is None:
            names = [a.get("name") for a in answers]
            return names[0] if len(names) == 1 else names
        chosen = [o for o in attribute.options if any(a.get("featureHash") == o.feature_node_hash for a in answers)]
        if isinstance(attribute, RadioAttribute):
            return chosen[0] if chosen else None
        return chosen
    return answers


def _pick_attribute(attributes: list[Attribute], attribute, answer, owner: str) -> Attribute:
    if attribute is not None:
        if attribute not in list(_walk_attributes(attributes)):
            raise LabelError(f"{attribute!r} is not an attribute of {owner}")
        return attribute
    found = _owner_attribute(attributes, answer)
    if found is not None:
        return found
    if len(attributes) == 1:
        return attributes[0]
    raise LabelError(f"{owner} has several attributes: name the one to answer with attribute=")


# --------------------------------------------------------------------------
# Instances


@dataclass
class Annotation:
    frame: int
    coordinates: Any


class ObjectInstance:
    """One object (of one ontology type) across the frames it appears on."""

    def __init__(self, ontology_object: Object, *, object_hash: Optional[str] = None):
        self.ontology_item = ontology_object
        self._hash = object_hash
        self._row: Optional[LabelRowV2] = None
        self._frames: dict[int, Coordinates] = {}
        self._confidence: dict[int, float] = {}
        self._answers: list[tuple[Attribute, Any]] = []

    @property
    def object_hash(self) -> Optional[str]:
        return self._hash

    @property
    def feature_hash(self) -> str:
        return self.ontology_item.feature_node_hash

    def set_for_frames(
        self, coordinates: Coordinates, frames=0, *, overwrite: bool = False, confidence: Optional[float] = None, **_metadata
    ) -> None:
        """Places the object with these coordinates on `frames` (an int, a
        `Range` or a list of them), with `confidence` in [0, 1] (default 1.0,
        a model's score where one placed it)."""
        if confidence is not None and not 0.0 <= confidence <= 1.0:
            raise LabelError(f"confidence {confidence} of `{self.ontology_item.name}` is outside [0, 1]")
        shape = getattr(coordinates, "_shape", None)
        want = getattr(self.ontology_item.shape, "value", self.ontology_item.shape)
        if shape != want:
            raise LabelError(f"object `{self.ontology_item.name}` is a {want} in the ontology, not a {shape}")
        for f in _frames_of(frames):
            if not overwrite and f in self._placed_frames():
                raise LabelError(
                    f"object `{self.ontology_item.name}` is already on frame {f}: pass overwrite=True to replace it"
                )
            if self._row is not None:
                self._row._place(self, f, coordinates, confidence)
            else:
                self._frames[f] = coordinates
                if confidence is not None:
                    self._confidence[f] = confidence

    def _placed_frames(self) -> set[int]:
        if self._row is not None:
            return {a.frame for a in self.get_annotations()}
        return set(self._frames)

    def get_annotations(self) -> list[Annotation]:
        if self._row is None:
            return [Annotation(f, c) for f, c in sorted(self._frames.items())]
        return [Annotation(f, c) for f, c in self._row._frames_of_object(self._hash, self.ontology_item)]

    def get_annotation_frames(self) -> set[int]:
        return {a.frame for a in self.get_annotations()}

    def remove_from_frames(self, frames) -> None:
        for f in _frames_of(frames):
            if self._row is not None:
                self._row._unplace(self._hash, f)
            else:
                self._frames.pop(f, None)

    def set_answer(self, answer, attribute: Optional[Attribute] = None, overwrite: bool = False, **_metadata) -> None:
        """Answers one of the object's static attributes: an `Option` for a
        radio attribute, a list of them for a checklist, a str, a number."""
        attr = _pick_attribute(self.ontology_item.attributes, attribute, answer, f"object `{self.ontology_item.name}`")
        entry = _answer_entry(attr, answer)
        if self._row is not None:
            self._row._set_object_answer(self._hash, entry, overwrite)
        else:
            if not overwrite and any(a is attr for a, _ in self._answers):
                raise LabelError(f"`{attr.name}` is already answered: pass overwrite=True to replace it")
            self._answers = [(a, e) for a, e in self._answers if a is not attr] + [(attr, entry)]

    def get_answer(self, attribute: Optional[Attribute] = None):
        attrs = self.ontology_item.attributes
        if attribute is None:
            if len(attrs) != 1:
                raise LabelError(f"object `{self.ontology_item.name}` has several attributes: name one")
            attribute = attrs[0]
        for entry in self._answer_entries():
            if entry.get("featureHash") == attribute.feature_node_hash:
                return _read_answer(attribute, entry)
        return None

    def _answer_entries(self) -> list[dict]:
        if self._row is None:
            return [e for _, e in self._answers]
        return self._row._object_answers(self._hash)

    def __repr__(self) -> str:
        return f"ObjectInstance({self.ontology_item.name!r}, {self._hash!r})"


class ClassificationInstance:
    """One classification and the frames it covers."""

    def __init__(self, ontology_classification: Classification, *, classification_hash: Optional[str] = None):
        self.ontology_item = ontology_classification
        self._hash = classification_hash
        self._row: Optional[LabelRowV2] = None
        self._frames: set[int] = set()
        self._answers: list[dict] = []

    @property
    def classification_hash(self) -> Optional[str]:
        return self._hash

    @property
    def feature_hash(self) -> str:
        return self.ontology_item.feature_node_hash

    def set_for_frames(self, frames=0, *, overwrite: bool = False, **_metadata) -> None:
        new = set(_frames_of(frames))
        if self._row is not None:
            self._row._set_classification_frames(self._hash, new, overwrite)
        else:
            self._frames = new if overwrite else self._frames | new

    def get_annotations(self) -> list[Annotation]:
        return [Annotation(f, None) for f in sorted(self._covered())]

    def _covered(self) -> set[int]:
        if self._row is None:
            return set(self._frames)
        entry = self._row._data["classification_answers"].get(self._hash, {})
        return {f for r in entry.get("range", []) for f in range(r[0], r[1] + 1)}

    def set_answer(self, answer, attribute: Optional[Attribute] = None, overwrite: bool = False, **_metadata) -> None:
        attr = _pick_attribute(self.ontology_item.attributes, attribute, answer, f"classification `{self.ontology_item.title}`")
        entry = _answer_entry(attr, answer)
        entries = self._entries()
        if not overwrite and any(e.get("featureHash") == entry["featureHash"] for e in entries):
            raise LabelError(f"`{attr.name}` is already answered: pass overwrite=True to replace it")
        entries[:] = [e for e in entries if e.get("featureHash") != entry["featureHash"]] + [entry]

    def _entries(self) -> list[dict]:
        if self._row is None:
            return self._answers
        return self._row._data["classification_answers"][self._hash].setdefault("classifications", [])

    def get_answer(self, attribute: Optional[Attribute] = None):
        if attribute is None:
            attribute = self.ontology_item.attributes[0] if self.ontology_item.attributes else None
        for entry in self._entries():
            if attribute is None or entry.get("featureHash") == attribute.feature_node_hash:
                return _read_answer(attribute, entry)
        return None

    def __repr__(self) -> str:
        return f"ClassificationInstance({self.ontology_item.title!r}, {self._hash!r})"


# --------------------------------------------------------------------------
# The label row


class DataType(str, Enum):
    IMAGE = "image"
    VIDEO = "video"
    IMG_GROUP = "img_group"
    IMAGE_SEQUENCE = "image_sequence"
    DICOM = "dicom"
    NIFTI = "nifti"
    PDF = "pdf"
    AUDIO = "audio"
    PLAIN_TEXT = "plain_text"
    GROUP = "group"
    MISSING_DATA_TYPE = "missing_data_type"

    @classmethod
    def _missing_(cls, value):
        return cls.MISSING_DATA_TYPE


@dataclass
class WorkflowGraphNode:
    uuid: str
    title: str


_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _snake(name: str) -> str:
    return name.strip().lower().replace(" ", "_")


def _now() -> str:
    return email.utils.formatdate(usegmt=True).replace("GMT", "UTC")


class LabelRowV2:
    """A task's label row (`encord.objects.LabelRowV2`), already initialised."""

    def __init__(self, data: dict, ontology: OntologyStructure):
        self._data = data
        self._data.setdefault("object_answers", {})
        self._data.setdefault("classification_answers", {})
        self._data.setdefault("data_units", {})
        self.ontology_structure = ontology
        # Set by the runner: what `save()` and `set_priority()` record.
        self._saved = False
        self._priority: Optional[float] = None
        # A twin project's row: `save()` hands it to the host for that project.
        self._save_to = None

    @classmethod
    def from_json(cls, text: str, ontology: OntologyStructure) -> "LabelRowV2":
        data = json.loads(text)
        if not isinstance(data, dict):
            raise LabelError("a label row must be a JSON object")
        return cls(data, ontology)

    # ---- what the row is

    @property
    def data_hash(self) -> str:
        return self._data.get("data_hash", "")

    @property
    def data_title(self) -> str:
        return self._data.get("data_title", "")

    @property
    def data_type(self) -> DataType:
        return DataType(self._data.get("data_type", ""))

    @property
    def label_hash(self) -> Optional[str]:
        return self._data.get("label_hash")

    @property
    def branch_name(self) -> str:
        return self._data.get("branch_name") or "main"

    @property
    def is_labelling_initialised(self) -> bool:
        return True

    @property
    def client_metadata(self) -> Optional[dict]:
        """The data's client metadata, when the stage asked for it with
        `LabelRowMetadataIncludeArgs(include_client_metadata=True)`; else
        None, as in Encord's SDK."""
        of = self.__dict__.get("_client_metadata_of")
        return of() if of is not None else None

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"`LabelRowV2.{name}` is an Encord SDK API that runner-host's LabelRowV2 does not have: "
            "see docs/languages.md (\"Porting from encord-agents\") for what it offers and what to use instead"
        )

    @property
    def workflow_graph_node(self) -> Optional[WorkflowGraphNode]:
        node = self._data.get("workflow_graph_node")
        if isinstance(node, dict):
            return WorkflowGraphNode(uuid=node.get("uuid", ""), title=node.get("title", ""))
        return None

    @property
    def number_of_frames(self) -> int:
        units = list(self._data["data_units"].values())
        if self._data.get("data_type") == "video" and units:
            return int(units[0].get("data_frames") or units[0].get("frames") or 0) or 1
        return max(len(units), 1)

    @property
    def width(self) -> Optional[int]:
        units = list(self._data["data_units"].values())
        return units[0].get("width") if units else None

    @property
    def height(self) -> Optional[int]:
        units = list(self._data["data_units"].values())
        return units[0].get("height") if units else None

    def initialise_labels(self, *_args, **_kwargs) -> None:
        """The runner hands out initialised rows: nothing to do."""

    def save(self, *_args, **_kwargs) -> None:
        """Saves the row with the task's other writes, before the task moves,
        only if the handler succeeds. A twin project's row (from
        `dep_twin_label_row`) is saved to that project: runner-host checks it
        now against the twin's ontology and raises if it does not fit."""
        if self._save_to is not None:
            self._save_to(self)
        else:
            self._saved = True

    def set_priority(self, priority: float, *_args, **_kwargs) -> None:
        """Sets the task's priority when the handler returns."""
        self._priority = float(priority)

    def to_encord_dict(self) -> dict:
        return self._data

    def to_json(self) -> str:
        return json.dumps(self._data)

    # ---- reading

    def get_object_instances(self, filter_ontology_object: Optional[Object] = None, filter_frames=None) -> list[ObjectInstance]:
        wanted = set(_frames_of(filter_frames)) if filter_frames is not None else None
        out: dict[str, ObjectInstance] = {}
        for frame, obj in self._frame_objects():
            if wanted is not None and frame not in wanted:
                continue
            h = obj.get("objectHash")
            if h in out:
                continue
            try:
                ont = self.ontology_structure.get_child_by_hash(obj.get("featureHash", ""), type_=Object)
            except OntologyError:
                continue
            if filter_ontology_object is not None and ont.feature_node_hash != filter_ontology_object.feature_node_hash:
                continue
            inst = ObjectInstance(ont, object_hash=h)
            inst._row = self
            out[h] = inst
        return list(out.values())

    def get_classification_instances(
        self, filter_ontology_classification: Optional[Classification] = None, filter_frames=None
    ) -> list[ClassificationInstance]:
        wanted = set(_frames_of(filter_frames)) if filter_frames is not None else None
        out = []
        for h, c in self._data["classification_answers"].items():
            try:
                ont = self.ontology_structure.get_child_by_hash(c.get("featureHash", ""), type_=Classification)
            except OntologyError:
                continue
            if (
                filter_ontology_classification is not None
                and ont.feature_node_hash != filter_ontology_classification.feature_node_hash
            ):
                continue
            inst = ClassificationInstance(ont, classification_hash=h)
            inst._row = self
            if wanted is not None and not (wanted & inst._covered()):
                continue
            out.append(inst)
        return out

    # ---- adding and removing

    def add_object_instance(self, obj: ObjectInstance, force: bool = True) -> None:
        if obj._row is not None:
            raise LabelError(f"{obj!r} already belongs to a label row")
        if not obj._frames:
            raise LabelError(f"{obj!r} is on no frame: call set_for_frames first")
        first = min(obj._frames)
        if obj._hash is None:
            obj._hash = self._new_hash(f"object:{obj.ontology_item.name}:{first}")
        elif obj._hash in self._data["object_answers"] or any(
            o.get("objectHash") == obj._hash for _, o in self._frame_objects()
        ):
            raise LabelError(f"object hash `{obj._hash}` is already in this label row")
        for f, coords in sorted(obj._frames.items()):
            self._place(obj, f, coords, obj._confidence.get(f))
        self._data["object_answers"][obj._hash] = {
            "objectHash": obj._hash,
            "classifications": [e for _, e in obj._answers],
        }
        obj._row = self
        obj._frames = {}
        obj._confidence = {}
        obj._answers = []

    def add_classification_instance(self, c: ClassificationInstance, force: bool = False) -> None:
        if c._row is not None:
            raise LabelError(f"{c!r} already belongs to a label row")
        frames = sorted(c._frames) or [0]
        if c._hash is None:
            c._hash = self._new_hash(f"classification:{c.ontology_item.title}")
        now = _now()
        self._data["classification_answers"][c._hash] = {
            "classificationHash": c._hash,
            "featureHash": c.ontology_item.feature_node_hash,
            "classifications": list(c._answers),
            "range": _ranges_of(frames),
            "spaces": {},
            "createdBy": None,
            "createdAt": now,
            "lastEditedBy": None,
            "lastEditedAt": now,
            "confidence": 1.0,
            "manualAnnotation": False,
        }
        c._row = self
        c._frames = set()
        c._answers = []

    def remove_object(self, obj: ObjectInstance) -> None:
        h = obj.object_hash
        self._data["object_answers"].pop(h, None)
        for labels in self._all_frame_labels():
            labels["objects"] = [o for o in labels.get("objects", []) if o.get("objectHash") != h]
        obj._row = None

    def remove_classification(self, c: ClassificationInstance) -> None:
        self._data["classification_answers"].pop(c.classification_hash, None)
        c._row = None

    # ---- the JSON underneath

    def _units(self) -> list[dict]:
        return list(self._data["data_units"].values())

    @staticmethod
    def _sequence(unit: dict) -> int:
        s = unit.get("data_sequence", 0)
        try:
            return int(s)
        except (TypeError, ValueError):
            return 0

    def _is_video(self) -> bool:
        return self._data.get("data_type") == "video"

    def _is_group(self) -> bool:
        return len(self._data["data_units"]) > 1 or self._data.get("data_type") == "img_group"

    def _frame_map(self, unit: dict) -> list[tuple[int, dict]]:
        labels = unit.get("labels")
        if not isinstance(labels, dict):
            return []
        if "objects" in labels and isinstance(labels["objects"], list):
            return [(self._sequence(unit) if self._is_group() else 0, labels)]
        return [(int(k), v) for k, v in labels.items() if str(k).isdigit() and isinstance(v, dict)]

    def _all_frame_labels(self) -> list[dict]:
        return [labels for unit in self._units() for _, labels in self._frame_map(unit)]

    def _frame_objects(self):
        found = []
        for unit in self._units():
            for frame, labels in self._frame_map(unit):
                for o in labels.get("objects", []):
                    found.append((frame, o))
        found.sort(key=lambda fo: fo[0])
        return found

    def _frames_of_object(self, h: str, ontology_object: Object) -> list[tuple[int, Any]]:
        shape = getattr(ontology_object.shape, "value", ontology_object.shape)
        return [(f, _coordinates_from(shape, o)) for f, o in self._frame_objects() if o.get("objectHash") == h]

    def _frame_labels(self, frame: int) -> dict:
        video, group = self._is_video(), self._is_group()
        if group:
            units = [u for u in self._units() if self._sequence(u) == frame]
        else:
            units = self._units()[:1]
        if not units:
            raise LabelError(f"the label row has no data unit for frame {frame}")
        if not video and not group and frame != 0:
            raise LabelError(f"frame {frame} does not exist: a {self._data.get('data_type')} has only frame 0")
        unit = units[0]
        labels = unit.get("labels")
        # An empty unit may have come in either shape: make it the right one.
        if not isinstance(labels, dict):
            empty = True
        elif isinstance(labels.get("objects"), list):
            empty = not labels["objects"] and not labels.get("classifications")
        else:
            empty = not labels
        if empty:
            labels = {} if video else {"objects": [], "classifications": []}
            unit["labels"] = labels
        if video:
            if "objects" in labels and isinstance(labels["objects"], list):
                raise LabelError("the data unit's labels do not have the shape of a video row")
            return labels.setdefault(str(frame), {"objects": [], "classifications": []})
        if "objects" not in labels:
            raise LabelError(f"the data unit's labels do not have the shape of a {self._data.get('data_type')} row")
        return labels

    def _place(self, obj: ObjectInstance, frame: int, coords: Coordinates, confidence: Optional[float] = None) -> None:
        ont = obj.ontology_item
        h = obj._hash
        labels = self._frame_labels(frame)
        labels["objects"] = [o for o in labels["objects"] if o.get("objectHash") != h]
        now = _now()
        entry = {
            "objectHash": h,
            "featureHash": ont.feature_node_hash,
            "shape": getattr(ont.shape, "value", ont.shape),
            "name": ont.name,
            "color": ont.color,
            "value": _snake(ont.name),
            "createdAt": now,
            "createdBy": None,
            "confidence": 1.0 if confidence is None else float(confidence),
            "manualAnnotation": False,
            "lastEditedAt": now,
        }
        entry.update(coords._keys())
        labels["objects"].append(entry)

    def _unplace(self, h: str, frame: int) -> None:
        for unit in self._units():
            for f, labels in self._frame_map(unit):
                if f == frame:
                    labels["objects"] = [o for o in labels.get("objects", []) if o.get("objectHash") != h]

    def _object_answers(self, h: str) -> list[dict]:
        return self._data["object_answers"].setdefault(h, {"objectHash": h, "classifications": []}).setdefault(
            "classifications", []
        )

    def _set_object_answer(self, h: str, entry: dict, overwrite: bool) -> None:
        answers = self._object_answers(h)
        if not overwrite and any(e.get("featureHash") == entry["featureHash"] for e in answers):
            raise LabelError(f"`{entry['name']}` is already answered: pass overwrite=True to replace it")
        answers[:] = [e for e in answers if e.get("featureHash") != entry["featureHash"]] + [entry]

    def _set_classification_frames(self, h: str, frames: set[int], overwrite: bool) -> None:
        entry = self._data["classification_answers"][h]
        if not overwrite:
            frames = frames | {f for r in entry.get("range", []) for f in range(r[0], r[1] + 1)}
        entry["range"] = _ranges_of(sorted(frames))

    def _taken(self, h: str) -> bool:
        return (
            h in self._data["object_answers"]
            or h in self._data["classification_answers"]
            or any(o.get("objectHash") == h for _, o in self._frame_objects())
        )

    def _new_hash(self, seed: str) -> str:
        """An 8-character hash, unique in this row: FNV-1a over the data hash,
        the seed and a counter, exactly as the Rust SDK derives it."""
        counter = 0
        while True:
            x = 0xCBF29CE484222325
            for b in self.data_hash.encode() + seed.encode() + counter.to_bytes(8, "little"):
                x ^= b
                x = (x * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
            h = "".join(_ALPHABET[(x >> (i * 6)) & 63] for i in range(8))
            if not self._taken(h):
                return h
            counter += 1

    def __repr__(self) -> str:
        return f"LabelRowV2({self.data_title!r})"
