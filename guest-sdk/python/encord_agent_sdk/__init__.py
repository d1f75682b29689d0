"""Write runner-host task agents in Python, the encord-agents way.

    from encord_agent_sdk import AgentTask, LabelRowV2, Runner

    runner = Runner()

    @runner.stage("pre-label")
    def pre_label(task: AgentTask, lr: LabelRowV2) -> str:
        ...
        return "to triage"

Build with `encord-agent-build agent.py -o agent.wasm`, run with
`runner-host --component agent.wasm --project-hash ...`.
"""

from . import http, nn
from .schema import OntologyDataModel
from .data import (
    Frame,
    Image,
    StorageItem,
    StorageItemType,
    Twin,
    asset_bytes,
    dep_asset,
    dep_single_frame,
    dep_storage_item,
    dep_twin_label_row,
    dep_video_iterator,
    dep_video_sampler,
)
from .labels import (
    Annotation,
    BoundingBoxCoordinates,
    ChecklistAttribute,
    Classification,
    ClassificationInstance,
    DataType,
    FlatOption,
    LabelError,
    LabelRowV2,
    NestableOption,
    NumericAttribute,
    Object,
    ObjectInstance,
    OntologyError,
    OntologyStructure,
    Option,
    PointCoordinate,
    PolygonCoordinates,
    PolylineCoordinates,
    RadioAttribute,
    Range,
    RotatableBoundingBoxCoordinates,
    Shape,
    TextAttribute,
)
from .runner import (
    AgentStage,
    AgentTask,
    AnnotationTask,
    FinalStageTask,
    ReviewTask,
    Depends,
    LabelRowInitialiseLabelsArgs,
    LabelRowMetadataIncludeArgs,
    PrintableError,
    Project,
    Runner,
    TaskAgentReturnStruct,
    UserClient,
    WorkflowTask,
    get_user_client,
)

__all__ = [name for name in dir() if not name.startswith("_")]
