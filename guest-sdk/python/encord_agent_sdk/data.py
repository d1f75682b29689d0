"""The data behind a task: storage items, assets, frames and twin projects,
as encord-agents' task dependencies (`encord_agents.tasks.dependencies`).

Frames are RGB8 `Image`s (no numpy inside the sandbox): `.shape` is
`(height, width, 3)` as numpy's would be, `.pixel(x, y)` reads one pixel and
`.rgb` holds the bytes row by row.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence, Union

from .labels import LabelRowV2, OntologyStructure
from .runner import AgentTask, WorkflowTask, current_context, task_of_stage


class StorageItemType(str, Enum):
    IMAGE = "image"
    VIDEO = "video"
    IMAGE_GROUP = "imageGroup"
    IMAGE_SEQUENCE = "imageSequence"
    DICOM_FILE = "dicomFile"
    DICOM_SERIES = "dicomSeries"
    NIFTI = "nifti"
    PDF = "pdf"
    AUDIO = "audio"
    PLAIN_TEXT = "plainText"
    GROUP = "group"
    OTHER = "other"

    @classmethod
    def _missing_(cls, value):
        return cls.OTHER


class StorageItem:
    """The storage item behind the task's data (`encord.storage.StorageItem`)."""

    def __init__(self, record, cx=None):
        self.uuid: str = record.uuid
        self.name: str = record.name
        self.item_type = StorageItemType(record.item_type)
        self.mime_type: Optional[str] = record.mime_type
        self.file_size: Optional[int] = record.file_size
        self.width: Optional[int] = record.width
        self.height: Optional[int] = record.height
        self.fps: Optional[float] = record.fps
        self.duration: Optional[float] = record.duration
        self.frame_count: Optional[int] = record.frame_count
        self.client_metadata: dict = json.loads(record.client_metadata or "{}")
        #: Image groups and sequences: child item uuids in frame order.
        self.children: list[str] = list(record.children)
        self._cx = cx

    def update(self, *, client_metadata: Optional[dict] = None, **_ignored) -> None:
        """Replaces the item's client metadata (as the SDK does); written
        with the task's labels, only if the handler succeeds."""
        if client_metadata is None:
            return
        if not isinstance(client_metadata, dict):
            raise TypeError("client_metadata must be a dict")
        text = json.dumps(client_metadata)
        (self._cx.source if self._cx else current_context().source).set_client_metadata(text)
        self.client_metadata = json.loads(text)

    def __repr__(self) -> str:
        return f"StorageItem({self.name!r}, {self.item_type.value})"

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        raise AttributeError(
            f"`StorageItem.{name}` is an Encord SDK API runner-host's StorageItem does not have: the data's bytes come "
            "through dep_asset, its frames through dep_single_frame / dep_video_iterator (docs/languages.md)"
        )


@dataclass
class Image:
    """One decoded RGB8 frame."""

    width: int
    height: int
    rgb: bytes

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.height, self.width, 3)

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        i = (y * self.width + x) * 3
        return (self.rgb[i], self.rgb[i + 1], self.rgb[i + 2])

    def mean_brightness(self) -> float:
        """Mean of all channels, 0-255."""
        return sum(self.rgb) / len(self.rgb) if self.rgb else 0.0

    def tobytes(self) -> bytes:
        return bytes(self.rgb)

    def encode(
        self,
        image_format: str = ".jpeg",
        *,
        quality: int = 90,
        crop=None,
        padding: float = 0.0,
        max_side: Optional[int] = None,
    ) -> bytes:
        """The image (or `crop`, a `BoundingBoxCoordinates` or an object's
        polygon bounds, grown by `padding` of its size) as a PNG or JPEG file,
        encoded in the host; `max_side` scales it down, aspect kept."""
        return _encode(self, image_format, quality, crop, padding, max_side)[0]

    def b64_encoding(
        self,
        image_format: str = ".jpeg",
        output_format: str = "url",
        *,
        quality: int = 90,
        crop=None,
        padding: float = 0.0,
        max_side: Optional[int] = None,
    ):
        """encord-agents' `Frame.b64_encoding`, with its defaults: the image
        (`image_format` ".jpeg", ".jpg" or ".png"; the dot is optional) as a
        data URL ("url"), base64 ("raw"), or a message part for OpenAI
        ("openai") or Anthropic ("anthropic")."""
        data, media_type = _encode(self, image_format, quality, crop, padding, max_side)
        b64 = base64.b64encode(data).decode("ascii")
        if output_format == "raw":
            return b64
        url = f"data:{media_type};base64,{b64}"
        if output_format == "url":
            return url
        if output_format == "openai":
            return {"type": "image_url", "image_url": {"url": url}}
        if output_format == "anthropic":
            return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": b64}}
        raise ValueError(f"output_format {output_format!r}: one of raw, url, openai, anthropic")


def _crop_box(crop, width: int = 1, height: int = 1):
    """(x, y, w, h), normalised, of what holds a BoundingBoxCoordinates, a
    RotatableBoundingBoxCoordinates (rotated in pixels, so the image's size
    matters), a polygon's or polyline's points, or an (x, y, w, h) tuple."""
    if crop is None:
        return None
    if hasattr(crop, "theta"):
        import math

        w, h = max(width, 1), max(height, 1)
        cx, cy = (crop.top_left_x + crop.width / 2) * w, (crop.top_left_y + crop.height / 2) * h
        hw, hh = crop.width * w / 2, crop.height * h / 2
        sin, cos = math.sin(math.radians(crop.theta)), math.cos(math.radians(crop.theta))
        corners = [((cx + dx * cos - dy * sin) / w, (cy + dx * sin + dy * cos) / h) for dx, dy in ((-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh))]
        xs, ys = [max(0.0, min(1.0, x)) for x, _ in corners], [max(0.0, min(1.0, y)) for _, y in corners]
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    if hasattr(crop, "top_left_x"):
        return (crop.top_left_x, crop.top_left_y, crop.width, crop.height)
    points = getattr(crop, "values", None)
    if points:
        xs, ys = [p.x for p in points], [p.y for p in points]
        return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    x, y, w, h = crop
    return (x, y, w, h)


def _encode(image: "Image", image_format: str, quality: int, crop, padding: float, max_side) -> tuple[bytes, str]:
    try:
        from componentize_py_types import Err
        from wit_world.imports import data as wdata
        from wit_world.imports import vision
    except ImportError:
        raise RuntimeError("images are encoded by runner-host: build the agent with encord-agent-build") from None
    fmt = {"png": vision.ImageFormat.PNG, "jpeg": vision.ImageFormat.JPEG, "jpg": vision.ImageFormat.JPEG}.get(
        image_format.lower().lstrip(".")
    )
    if fmt is None:
        raise ValueError(f"image_format {image_format!r}: .png, .jpeg or .jpg")
    box = _crop_box(crop, image.width, image.height)
    options = vision.EncodeOptions(
        format=fmt,
        quality=int(quality),
        crop=None if box is None else vision.BoundingBox(x=box[0], y=box[1], w=box[2], h=box[3]),
        padding=float(padding),
        max_side=max_side,
    )
    frame = wdata.Frame(index=0, width=image.width, height=image.height, rgb=bytes(image.rgb))
    try:
        e = vision.encode_image(frame, options)
    except Err as err:
        raise ValueError(str(err.value)) from None
    return bytes(e.bytes), e.media_type


@dataclass
class Frame:
    """A frame of a video (encord-agents' `Frame`): its index and content."""

    frame: int
    content: Image

    def b64_encoding(self, image_format: str = ".jpeg", output_format: str = "url", **kwargs):
        """encord-agents' `Frame.b64_encoding` (see `Image.b64_encoding`)."""
        return self.content.b64_encoding(image_format, output_format, **kwargs)


def _frame(f) -> Frame:
    return Frame(frame=f.index, content=Image(width=f.width, height=f.height, rgb=f.rgb))


def _needs(*needs: str):
    def mark(fn):
        fn.__encord_needs__ = needs
        return fn

    return mark


@_needs("storage-item")
def dep_storage_item() -> StorageItem:
    """The task's storage item (a plain `StorageItem` parameter does the same)."""
    return current_context().storage_item()


@_needs("frames")
def dep_single_frame() -> Image:
    """Frame 0 of an image, video, image group or image sequence."""
    return _frame(current_context().source.first_frame()).content


@_needs("frames")
def dep_video_iterator() -> Iterator[Iterator[Frame]]:
    """Every frame in order, decoded as they are read (never the whole video)."""
    frames = current_context().source.all_frames()
    yield (_frame(f) for f in frames)


@_needs("frames")
def dep_video_sampler() -> Iterator[Callable[[Union[float, Sequence[int]]], Iterator[Frame]]]:
    """A sampler: a rate in (0, 1] gives frames floor(k / rate); a list of
    indices gives those frames (sorted, without repeats), reached by seeking."""
    source = current_context().source

    def sample(what: Union[float, Sequence[int]]) -> Iterator[Frame]:
        if isinstance(what, (int, float)) and not isinstance(what, bool):
            frames = source.sample_rate(float(what))
        else:
            frames = source.sample_frames([int(i) for i in what])
        return (_frame(f) for f in frames)

    yield sample


@_needs("asset")
def dep_asset() -> Iterator[Path]:
    """The data unit as a read-only file inside the sandbox, named
    `{uuid}.{ext}`; removed by the host after the task."""
    yield Path(current_context().source.asset_path())


def asset_bytes(frame: Optional[int] = None) -> bytes:
    """The data unit's bytes; for an image group, child `frame`. The stage
    must depend on `dep_asset` (or declare the asset need otherwise)."""
    return current_context().source.asset_bytes(frame)


@dataclass(frozen=True)
class Twin:
    """The same data in another project."""

    label_row: LabelRowV2
    task: Optional[WorkflowTask]


def dep_twin_label_row(twin_project_hash: str, init_labels: bool = True, include_task: bool = False) -> Callable[[], Optional[Twin]]:
    """A dependency giving the label row (and, with `include_task`, the task)
    of this task's data in project `twin_project_hash`, or None. The host
    loads the twin rows once per batch. The twin's labels are read with the
    twin project's own ontology (`twin.label_row.ontology_structure`), and
    `twin.label_row.save()` saves them to the twin project, as in
    encord-agents."""

    def twin() -> Optional[Twin]:
        cx = current_context()
        source = cx.source
        found = source.twin(twin_project_hash)
        if found is None:
            return None
        from .runner import parsed_ontology

        ontology = parsed_ontology(source.twin_ontology(twin_project_hash))
        row = LabelRowV2.from_json(found.label_row, ontology)
        row._save_to = lambda r: source.save_twin(twin_project_hash, r.to_json())
        task = None
        if found.task is not None:
            t = found.task
            stage = source.twin_stage(twin_project_hash)
            cls = task_of_stage(stage.stage_type if stage is not None else None)
            extra = {"proceed": lambda pathway: source.twin_proceed(twin_project_hash, pathway)} if cls is AgentTask else {}
            task = cls(
                t.uuid, t.data_hash, t.data_title, t.label_branch_name, t.status, found.stage_uuid,
                details=lambda: source.task_details(t.uuid), **extra,
            )
        return Twin(label_row=row, task=task)

    twin.__name__ = f"twin_{twin_project_hash}"
    twin.__encord_twins__ = {twin_project_hash: include_task}
    return twin
