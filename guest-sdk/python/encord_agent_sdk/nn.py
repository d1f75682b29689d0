"""Models and vision helpers: inference on the models the operator granted
(`runner-host --model NAME=PATH`) through the standard `wasi:nn` interface,
and the host's helpers that turn a frame into a tensor and a model's output
into regions or boxes at native speed (docs/models.md).

    from encord_agent_sdk import nn

    model = nn.load("text-detector")
    prepared = nn.frame_tensor(frame, 640, 480, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    outputs = model.run({"x": prepared.tensor})
    for region in nn.probability_regions(outputs.first(), prepared.placement):
        ...  # region.polygon: PolygonCoordinates; region.bounding_box; region.score

Models run only inside runner-host: natively (tests) `load` and the helpers
raise `NnError` saying so.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Iterator, Optional

from .labels import BoundingBoxCoordinates, PointCoordinate, PolygonCoordinates


class NnError(Exception):
    """A model or tensor the host refused, with wasi:nn's error code."""

    def __init__(self, message: str, code: str = "runtime-error"):
        super().__init__(message)
        self.code = code


def _wit():
    try:
        from wit_world.imports import data, graph, tensor, vision
    except ImportError:
        raise NnError("models run only inside runner-host: build the agent with encord-agent-build") from None
    return data, graph, tensor, vision


def _raise(what: str, e) -> NnError:
    value = getattr(e, "value", e)
    try:
        message, code = value.data(), value.code().name.lower().replace("_", "-")
    except AttributeError:
        message, code = str(value), "runtime-error"
    return NnError(f"{what}: {message} ({code})", code)


_TYPES = ("FP16", "FP32", "FP64", "BF16", "U8", "I32", "I64")


class Tensor:
    """A tensor held by the host: a model's input or output."""

    def __init__(self, handle):
        self._handle = handle

    @classmethod
    def new(cls, dims, ty: str, data: bytes) -> "Tensor":
        """A tensor of these dimensions, element type (`"FP32"`, `"U8"`, ...)
        and little-endian bytes."""
        _, _, tensor, _ = _wit()
        if ty not in _TYPES:
            raise NnError(f"unknown tensor type {ty!r}: one of {', '.join(_TYPES)}", "invalid-argument")
        return cls(tensor.Tensor(list(dims), getattr(tensor.TensorType, ty), bytes(data)))

    @classmethod
    def from_f32(cls, dims, values) -> "Tensor":
        return cls.new(dims, "FP32", array("f", values).tobytes())

    @property
    def dims(self) -> list[int]:
        return list(self._handle.dimensions())

    @property
    def ty(self) -> str:
        return self._handle.ty().name

    def tobytes(self) -> bytes:
        return bytes(self._handle.data())

    def to_f32(self) -> list[float]:
        if self.ty != "FP32":
            raise NnError(f"expected an FP32 tensor, got {self.ty}", "invalid-argument")
        return array("f", self.tobytes()).tolist()


class Outputs:
    """A model's outputs by name, in the model's order."""

    def __init__(self, pairs):
        self._pairs = [(name, Tensor(t)) for name, t in pairs]

    def __getitem__(self, name: str) -> Tensor:
        for n, t in self._pairs:
            if n == name:
                return t
        raise KeyError(f"no output {name!r}; the model gave {', '.join(n for n, _ in self._pairs)}")

    def first(self) -> Tensor:
        if not self._pairs:
            raise NnError("the model gave no output")
        return self._pairs[0][1]

    def names(self) -> list[str]:
        return [n for n, _ in self._pairs]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


class Model:
    """A granted model, ready to run."""

    def __init__(self, name: str, graph, context):
        self.name = name
        self._graph = graph
        self._context = context

    def run(self, inputs: dict) -> Outputs:
        """Runs the model on named inputs (each tensor is given up to the host)."""
        pairs = [(name, t._handle) for name, t in inputs.items()]
        for t in inputs.values():
            t._handle = None
        try:
            return Outputs(self._context.compute(pairs))
        except Exception as e:  # componentize-py's Err
            raise _raise(f"model `{self.name}`", e) from None


def load(name: str) -> Model:
    """Opens the model the operator granted under `name` (`--model NAME=PATH`)."""
    _, graph, _, _ = _wit()
    try:
        g = graph.load_by_name(name)
        return Model(name, g, g.init_execution_context())
    except Exception as e:
        raise _raise(f"model `{name}`", e) from None


@dataclass
class Prepared:
    tensor: Tensor
    placement: object


def frame_tensor(
    image,
    width: int,
    height: int,
    *,
    resize: str = "stretch",
    layout: str = "nchw",
    channels: str = "rgb",
    mean=(0.0, 0.0, 0.0),
    std=(1.0, 1.0, 1.0),
    pad: float = 0.0,
) -> Prepared:
    """The image (`dep_single_frame`'s `Image`, or a frame's `.content`) as an
    f32 tensor made in the host: `resize` is "stretch", "letterbox" or
    "fit-top-left"; `layout` "nchw" or "nhwc"; `channels` "rgb" or "bgr";
    each value `(pixel / 255 - mean) / std`."""
    data, _, _, vision = _wit()
    image = getattr(image, "content", image)
    enum = lambda kind, value: getattr(kind, value.upper().replace("-", "_"))
    options = vision.TensorOptions(
        width=width,
        height=height,
        resize=enum(vision.Resize, resize),
        layout=enum(vision.Layout, layout),
        channels=enum(vision.ChannelOrder, channels),
        mean=tuple(float(m) for m in mean),
        std=tuple(float(s) for s in std),
        pad=float(pad),
    )
    frame = data.Frame(index=0, width=image.width, height=image.height, rgb=bytes(image.rgb))
    try:
        p = vision.frame_tensor(frame, options)
    except Exception as e:
        raise _raise("frame_tensor", e) from None
    return Prepared(tensor=Tensor(p.tensor), placement=p.placement)


def _box(b) -> BoundingBoxCoordinates:
    return BoundingBoxCoordinates(height=b.h, width=b.w, top_left_x=b.x, top_left_y=b.y)


@dataclass
class Region:
    """A region of a probability map, in normalised image coordinates."""

    polygon: PolygonCoordinates
    bounding_box: BoundingBoxCoordinates
    score: float


def probability_regions(
    probabilities: Tensor,
    placement,
    *,
    threshold: float = 0.3,
    box_threshold: float = 0.6,
    unclip_ratio: float = 1.5,
    min_side: float = 3.0,
    max_regions: int = 1000,
) -> list[Region]:
    """Regions of a probability map (PP-OCR / DBNet text detectors, binary
    segmenters); the defaults are PP-OCR's."""
    _, _, _, vision = _wit()
    options = vision.RegionOptions(
        threshold=threshold,
        box_threshold=box_threshold,
        unclip_ratio=unclip_ratio,
        min_side=min_side,
        max_regions=max_regions,
    )
    try:
        found = vision.probability_regions(probabilities._handle, placement, options)
    except Exception as e:
        raise _raise("probability_regions", e) from None
    return [
        Region(
            polygon=PolygonCoordinates(values=[PointCoordinate(x=p.x, y=p.y) for p in r.polygon]),
            bounding_box=_box(r.bounding_box),
            score=r.score,
        )
        for r in found
    ]


@dataclass
class Detection:
    bounding_box: BoundingBoxCoordinates
    score: float
    class_index: int


def yolo_detections(
    output: Tensor,
    placement,
    *,
    format: str = "v8",
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
    max_detections: int = 300,
) -> list[Detection]:
    """Boxes from a YOLO detector's output ("v5", "v8" or "yolox") after
    per-class non-maximum suppression."""
    _, _, _, vision = _wit()
    options = vision.YoloOptions(
        format=getattr(vision.YoloFormat, format.upper()),
        score_threshold=score_threshold,
        iou_threshold=iou_threshold,
        max_detections=max_detections,
    )
    try:
        found = vision.yolo_detections(output._handle, placement, options)
    except Exception as e:
        raise _raise("yolo_detections", e) from None
    return [Detection(bounding_box=_box(d.bounding_box), score=d.score, class_index=d.class_index) for d in found]


@dataclass
class ImageMask:
    """An Encord bitmask over the whole image: its size and run-length string
    (the label row's `bitmask` shape: top 0, left 0, width, height, rleString)."""

    width: int
    height: int
    rle: str


def mask_bitmask(mask: Tensor, placement, threshold: float = 0.5) -> ImageMask:
    """The image pixels whose value in `mask` (a mask or probability map over
    the tensor `placement` describes) is above `threshold`."""
    _, _, _, vision = _wit()
    try:
        m = vision.mask_bitmask(mask._handle, placement, threshold)
    except Exception as e:
        raise _raise("mask_bitmask", e) from None
    return ImageMask(width=m.width, height=m.height, rle=m.rle)
