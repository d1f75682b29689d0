"""Pre-labels every text region of an image as a `Region` polygon with the
PP-OCRv4 text detector the operator grants as `text-detector`: the Python
twin of examples/text-regions (Rust), giving the same regions.

    runner-host --component text_regions.wasm --model text-detector=ch_PP-OCRv4_det_infer.onnx ...

The model runs in the host (ONNX Runtime through wasi:nn); the frame's
resize and normalisation and the probability map's regions are the host's
vision helpers, so no Python loops over pixels.
"""

from typing import Annotated

from encord_agent_sdk import (
    Depends,
    Image,
    LabelRowV2,
    Object,
    Runner,
    TaskAgentReturnStruct,
    dep_single_frame,
    nn,
)

runner = Runner()

MAX_SIDE = 960


def input_size(width: int, height: int) -> tuple[int, int]:
    """Each side a multiple of 32 (PP-OCR), the longer one at most 960."""
    scale = min(1.0, MAX_SIDE / max(width, height))
    side = lambda v: max(1, int(v * scale / 32 + 0.5)) * 32  # half up, as Rust rounds
    return side(width), side(height)


@runner.stage("pre-label")
def text_regions(lr: LabelRowV2, frame: Annotated[Image, Depends(dep_single_frame)]) -> TaskAgentReturnStruct:
    model = nn.load("text-detector")
    width, height = input_size(frame.width, frame.height)
    prepared = nn.frame_tensor(frame, width, height, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
    outputs = model.run({"x": prepared.tensor})
    region_class = lr.ontology_structure.get_child_by_title("Region", type_=Object)
    regions = nn.probability_regions(outputs.first(), prepared.placement)
    for region in regions:
        instance = region_class.create_instance()
        instance.set_for_frames(coordinates=region.polygon, frames=0, confidence=region.score)
        lr.add_object_instance(instance)
    print(f"{len(regions)} text region(s)")
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr)
