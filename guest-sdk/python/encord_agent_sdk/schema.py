"""The ontology as a JSON schema for a model's structured output, and the
model's answer back into labels: encord-agents' `OntologyDataModel` for
classifications.

    model = OntologyDataModel([quality, scene])        # or the whole OntologyStructure
    body["response_format"] = {"type": "json_schema",
                               "json_schema": {"name": "labels", "schema": model.model_json_schema, "strict": True}}
    ...
    for instance in model.validate_json(answer_text):   # LabelError when the answer does not fit
        lr.add_classification_instance(instance)

As in encord-agents, `model_json_schema` and `model_json_schema_str` are
properties and the model can be called with the answer. Given object types
instead of classifications, the model is a choice among them (with each
one's attributes), and the answer becomes one `ObjectInstance` for the
caller to place with `set_for_frames` and add to the row.

Each classification is one property named after its question: a radio
question's answer is one of its option labels, a checklist's a list of them,
a text question's a string. A radio question whose options have nested
questions is answered with an object instead: `choice`, the option's label,
and the nested questions of that option (each option one of the schema's
`anyOf`), as encord-agents' nested radio models are.
"""

from __future__ import annotations

import json
from typing import Iterable, Union

from .labels import (
    ChecklistAttribute,
    Classification,
    ClassificationInstance,
    LabelError,
    Object,
    ObjectInstance,
    OntologyStructure,
    RadioAttribute,
    TextAttribute,
)


class OntologyDataModel:
    def __init__(self, classifications: Union[OntologyStructure, Iterable[Union[Classification, Object]]]):
        items = list(getattr(classifications, "classifications", classifications))
        if not items:
            raise LabelError("no classifications or objects given to make a schema of")
        kinds = {type(i) for i in items}
        if len(kinds) > 1:
            raise LabelError("classifications and objects cannot be mixed in one OntologyDataModel")
        self.objects: list[Object] = [i for i in items if isinstance(i, Object)]
        self.classifications: list[Classification] = [i for i in items if isinstance(i, Classification)]
        for c in self.classifications:
            if not c.attributes:
                raise LabelError(f"classification {c!r} has no question")

    def _property(self, c: Classification) -> dict:
        return self._question(c.attributes[0])

    @staticmethod
    def _question(q) -> dict:
        labels = [o.label for o in q.options]
        if _is_nested(q):
            choices = []
            for o in q.options:
                props = {"choice": {"type": "string", "enum": [o.label]}}
                props.update({n.name: OntologyDataModel._question(n) for n in o.nested_options})
                choices.append(
                    {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
                )
            return {
                "anyOf": choices,
                "description": f"{q.name}: one of {', '.join(labels)} as `choice`, with the questions of the option chosen",
            }
        if isinstance(q, RadioAttribute):
            return {"type": "string", "enum": labels, "description": f"{q.name}: one of {', '.join(labels)}"}
        if isinstance(q, ChecklistAttribute):
            return {
                "type": "array",
                "items": {"type": "string", "enum": labels},
                "uniqueItems": True,
                "description": f"{q.name}: any of {', '.join(labels)}",
            }
        if isinstance(q, TextAttribute):
            return {"type": "string", "description": q.name}
        raise LabelError(f"question `{q.name}` of type {type(q).__name__} is not supported in a schema")

    @property
    def model_json_schema(self) -> dict:
        """A JSON Schema (draft 2020-12) object: one required property per
        classification, no others; for objects, one of them (`object`, its
        title) with its attributes (a property, as in encord-agents)."""
        if self.objects:
            choices = []
            for o in self.objects:
                props = {"object": {"type": "string", "const": o.title}}
                props.update({a.name: self._question(a) for a in o.attributes})
                choices.append(
                    {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}
                )
            return {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Object", "anyOf": choices}
        props = {c.title: self._property(c) for c in self.classifications}
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "Labels",
            "type": "object",
            "properties": props,
            "required": list(props),
            "additionalProperties": False,
        }

    @property
    def model_json_schema_str(self) -> str:
        return json.dumps(self.model_json_schema)

    def __call__(self, answer: Union[str, bytes, dict]) -> list[ClassificationInstance]:
        """`validate_json(answer)`, as encord-agents' model is called."""
        return self.validate_json(answer)

    def validate_json(
        self, answer: Union[str, bytes, dict], frames=0
    ) -> Union[list[ClassificationInstance], ObjectInstance]:
        """The answer (JSON text or already parsed) as classification
        instances on `frames`, checked against the schema: every
        classification answered, nothing else, each answer one the ontology
        has. Raises `LabelError` naming what does not fit."""
        if isinstance(answer, (str, bytes)):
            try:
                answer = json.loads(answer)
            except ValueError as e:
                raise LabelError(f"the model's answer is not JSON: {e}") from None
        if not isinstance(answer, dict):
            raise LabelError(f"the model's answer is not a JSON object: {answer!r}")
        if self.objects:
            return self._object(answer)
        known = {c.title for c in self.classifications}
        extra = sorted(set(answer) - known)
        if extra:
            raise LabelError(f"the model's answer has {', '.join(extra)}, not in the schema ({', '.join(sorted(known))})")
        out = []
        for c in self.classifications:
            if c.title not in answer:
                raise LabelError(f"the model's answer lacks `{c.title}`")
            chosen = _chosen(c.attributes[0], answer[c.title])
            instance = c.create_instance()
            instance.set_for_frames(frames=frames)
            for attr, value in chosen:
                instance.set_answer(answer=value, attribute=attr)
            out.append(instance)
        return out

    def _object(self, answer: dict) -> ObjectInstance:
        titles = {o.title: o for o in self.objects}
        o = titles.get(answer.get("object"))
        if o is None:
            raise LabelError(f"the model's answer names object {answer.get('object')!r}, not one of {', '.join(titles)}")
        names = {a.name: a for a in o.attributes}
        extra = sorted(set(answer) - set(names) - {"object"})
        if extra:
            raise LabelError(f"the model's answer has {', '.join(extra)}, not attributes of `{o.title}`")
        instance = o.create_instance()
        for name, attr in names.items():
            if name not in answer:
                raise LabelError(f"the model's answer lacks `{name}` of `{o.title}`")
            for a, value in _chosen(attr, answer[name]):
                instance.set_answer(answer=value, attribute=a)
        return instance


def _is_nested(q) -> bool:
    """A radio question with nested questions under any of its options."""
    return isinstance(q, RadioAttribute) and any(o.nested_options for o in q.options)


def _chosen(q, value) -> list:
    """The (question, answer) pairs `value` gives question `q`, checked:
    its own first, then the nested questions of the option chosen."""
    if not _is_nested(q):
        return [(q, _own(q, value))]
    if not isinstance(value, dict):
        raise LabelError(f"`{q.name}`: {value!r} is not an object with `choice` and the questions of that option")
    option = _own(q, value.get("choice"))
    of = f" of `{q.name}`: `{option.label}`"
    names = {n.name: n for n in option.nested_options}
    extra = sorted(set(value) - set(names) - {"choice"})
    if extra:
        raise LabelError(f"the model's answer has {', '.join(extra)}, not in the schema{of}")
    out = [(q, option)]
    for name, n in names.items():
        if name not in value:
            raise LabelError(f"the model's answer lacks `{name}`{of}")
        out.extend(_chosen(n, value[name]))
    return out


def _own(q, value):
    """What `value` answers question `q` itself with: its option, options or
    text, checked."""
    options = {o.label: o for o in q.options}
    if isinstance(q, RadioAttribute):
        if value not in options:
            raise LabelError(f"`{q.name}`: {value!r} is not one of {', '.join(options)}")
        return options[value]
    if isinstance(q, ChecklistAttribute):
        if not isinstance(value, list) or any(v not in options for v in value):
            raise LabelError(f"`{q.name}`: {value!r} is not a list of {', '.join(options)}")
        return [options[v] for v in dict.fromkeys(value)]
    if isinstance(q, TextAttribute):
        if not isinstance(value, str):
            raise LabelError(f"`{q.name}`: {value!r} is not a string")
        return value
    raise LabelError(f"question `{q.name}` of type {type(q).__name__} is not supported in a schema")
