"""Label-row options end to end. The `triage` stage asks, as encord-agents'
`LabelRowInitialiseLabelsArgs` lets it, for Vehicle objects only, no
classifications, reviews, and signed URLs. The handler checks that the row
it gets is exactly that (a check that fails raises, failing the task) and
routes what it saw: `done` with a Vehicle, `needs annotation` without.
"""

from encord_agent_sdk import AgentTask, LabelRowInitialiseLabelsArgs, LabelRowV2, Runner

runner = Runner()


def labels_of(row: dict):
    for unit in row["data_units"].values():
        labels = unit.get("labels", {})
        frames = [labels] if "objects" in labels or "classifications" in labels else list(labels.values())
        for frame in frames:
            yield unit, frame


@runner.stage(
    "triage",
    label_row_initialise_labels_args=LabelRowInitialiseLabelsArgs(
        include_object_feature_hashes={"objVehicle"},
        include_classification_feature_hashes=set(),
        include_reviews=True,
        include_signed_url=True,
    ),
)
def check(task: AgentTask, lr: LabelRowV2) -> str:
    row = lr.to_encord_dict()
    objects = [o for _, frame in labels_of(row) for o in frame.get("objects", [])]
    if any(o["featureHash"] != "objVehicle" for o in objects):
        raise ValueError(f"objects other than Vehicles: {[o['featureHash'] for o in objects]}")
    if any(frame.get("classifications") for _, frame in labels_of(row)) or row["classification_answers"]:
        raise ValueError("classifications were served though none were asked for")
    for unit in row["data_units"].values():
        link = unit.get("data_link") or ""
        if not (link.startswith("file://") or "sig=" in link):
            raise ValueError(f"data_link `{link}` is not signed")
    if task.data_title == "street-01.png" and not any(o.get("reviews") for o in objects):
        raise ValueError("the reviews were not served")
    return "done" if objects else "needs annotation"
