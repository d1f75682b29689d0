"""Classifies each image's Quality and Scene with a vision model behind an
OpenAI-compatible chat-completions API, asking for JSON that follows the
ontology's schema, and writes the answer as classifications.

The endpoint, model and key are the operator's, granted at run time and
never in the code:

    OPENAI_API_KEY=... runner-host --component classify_with_llm.wasm \\
        --env OPENAI_API_KEY --env OPENAI_BASE_URL --allow-net api.openai.com ...

encord-agents' version would call `openai.OpenAI().chat.completions.create`
with `frame.b64_encoding(output_format="openai")`; here the request is one
`http.post` with the same body.
"""

import os
from typing import Annotated

from encord_agent_sdk import (
    Classification,
    Depends,
    Image,
    LabelRowV2,
    OntologyDataModel,
    Runner,
    TaskAgentReturnStruct,
    dep_single_frame,
    http,
)

runner = Runner()

PROMPT = "Classify the image: its quality (Good, or Blurry when out of focus) and its scene. Answer in JSON."


@runner.stage("pre-label")
def classify(lr: LabelRowV2, frame: Annotated[Image, Depends(dep_single_frame)]) -> TaskAgentReturnStruct:
    base = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    key = os.environ["OPENAI_API_KEY"]
    ontology = lr.ontology_structure
    schema = OntologyDataModel(
        [ontology.get_child_by_title(t, type_=Classification) for t in ("Quality", "Scene")]
    )
    body = {
        "model": os.environ.get("OPENAI_MODEL", "gpt-4o-mini"),
        "messages": [
            {"role": "system", "content": PROMPT},
            {"role": "user", "content": [{"type": "text", "text": lr.data_title}, frame.b64_encoding(".png", "openai")]},
        ],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "labels", "schema": schema.model_json_schema, "strict": True},
        },
    }
    r = http.post(f"{base}/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"}, timeout=60)
    # A 429 or 5xx fails this attempt; runner-host retries the task
    # (--num-retries, with backoff) in a fresh instance.
    r.raise_for_status()
    answer = r.json()["choices"][0]["message"]["content"]
    for instance in schema.validate_json(answer):
        lr.add_classification_instance(instance)
    return TaskAgentReturnStruct(pathway="to triage", label_row=lr)
