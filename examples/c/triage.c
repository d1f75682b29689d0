// The triage agent in C, straight against the bindings wit-bindgen generates
// for wit/agent.wit (no SDK): the C twin of examples/triage (Rust).
//
// - a blurry image (title or Quality label) needs a human: "needs annotation",
//   priority 1.0;
// - anything with a person goes "to review", priority 0.8;
// - the rest is "done", priority 0.0.
//
// Build: scripts/build-agent.sh examples/c/triage.c -o triage.wasm

#include <stdlib.h>
#include <string.h>

#include "agent.h"

// ---------------------------------------------------------------------------
// Just enough JSON: skip values, look a key up in an object, visit the
// elements of an array or the values of an object.

static const char *ws(const char *p) {
  while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
  return p;
}

static const char *skip_string(const char *p) {
  p++;  // the opening quote
  while (*p && *p != '"') p += (*p == '\\' && p[1]) ? 2 : 1;
  return *p ? p + 1 : p;
}

static const char *skip_value(const char *p) {
  p = ws(p);
  if (*p == '"') return skip_string(p);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    int object = *p == '{';
    p++;
    for (;;) {
      p = ws(p);
      if (*p == close) return p + 1;
      if (!*p) return p;
      if (object) {
        p = ws(skip_string(p));
        if (*p == ':') p++;
      }
      p = ws(skip_value(p));
      if (*p == ',') p++;
    }
  }
  while (*p && *p != ',' && *p != '}' && *p != ']') p++;
  return p;
}

// Whether the JSON value at p is the string s (no escapes in s).
static bool is_string(const char *p, const char *s) {
  if (!p) return false;
  p = ws(p);
  size_t n = strlen(s);
  return *p == '"' && strncmp(p + 1, s, n) == 0 && p[1 + n] == '"';
}

// The value of `key` in the object at p, or NULL.
static const char *get(const char *p, const char *key) {
  if (!p) return NULL;
  p = ws(p);
  if (*p != '{') return NULL;
  p++;
  for (;;) {
    p = ws(p);
    if (*p != '"') return NULL;
    const char *k = p;
    p = ws(skip_string(p));
    if (*p == ':') p++;
    p = ws(p);
    if (is_string(k, key)) return p;
    p = ws(skip_value(p));
    if (*p == ',') p++;
  }
}

typedef bool (*visit_fn)(const char *value, void *cx);

// Calls f on each element of the array (or value of the object) at p until
// it returns true; returns whether one did.
static bool any(const char *p, visit_fn f, void *cx) {
  if (!p) return false;
  p = ws(p);
  if (*p != '[' && *p != '{') return false;
  int object = *p == '{';
  p++;
  for (;;) {
    p = ws(p);
    if (*p == ']' || *p == '}' || !*p) return false;
    if (object) {
      p = ws(skip_string(p));
      if (*p == ':') p++;
      p = ws(p);
    }
    if (f(p, cx)) return true;
    p = ws(skip_value(p));
    if (*p == ',') p++;
  }
}

// A copy of the JSON string at p (escapes kept as they are), or "".
static char *copy_string(const char *p) {
  if (!p || *(p = ws(p)) != '"') return strdup("");
  const char *end = skip_string(p);
  size_t n = (size_t)(end - p) - 2;
  char *s = malloc(n + 1);
  memcpy(s, p + 1, n);
  s[n] = 0;
  return s;
}

static char *c_string(const agent_string_t *s) {
  char *out = malloc(s->len + 1);
  memcpy(out, s->ptr, s->len);
  out[s->len] = 0;
  return out;
}

// ---------------------------------------------------------------------------
// The ontology: the feature hashes of Person, Quality and its Blurry option.

typedef struct {
  char *person, *quality, *blurry;
} ontology_t;

static bool find_person(const char *object, void *cx) {
  ontology_t *o = cx;
  if (!is_string(get(object, "name"), "Person")) return false;
  o->person = copy_string(get(object, "featureNodeHash"));
  return true;
}

static bool find_blurry(const char *option, void *cx) {
  ontology_t *o = cx;
  if (!is_string(get(option, "label"), "Blurry")) return false;
  o->blurry = copy_string(get(option, "featureNodeHash"));
  return true;
}

static bool first(const char *value, void *cx) {
  *(const char **)cx = value;
  return true;
}

static bool find_quality(const char *classification, void *cx) {
  ontology_t *o = cx;
  const char *question = NULL;
  any(get(classification, "attributes"), first, &question);
  if (!is_string(get(question, "name"), "Quality")) return false;
  o->quality = copy_string(get(classification, "featureNodeHash"));
  any(get(question, "options"), find_blurry, o);
  return true;
}

// ---------------------------------------------------------------------------
// The label row

static bool has_feature(const char *value, void *hash) {
  return is_string(get(value, "featureHash"), hash);
}

static bool answered_blurry(const char *classification, void *cx) {
  ontology_t *o = cx;
  if (!o->quality || !o->blurry || !is_string(get(classification, "featureHash"), o->quality)) return false;
  const char *answer = NULL;
  any(get(classification, "classifications"), first, &answer);
  return any(get(answer, "answers"), has_feature, o->blurry);
}

static bool frame_has_person(const char *frame, void *person) {
  return any(get(frame, "objects"), has_feature, person);
}

static bool unit_has_person(const char *unit, void *person) {
  const char *labels = get(unit, "labels");
  if (get(labels, "objects")) return frame_has_person(labels, person);  // image
  return any(labels, frame_has_person, person);                         // video: frame → labels
}

// ---------------------------------------------------------------------------
// The exports

static const char *PATHWAYS[] = {"needs annotation", "to review", "done"};

void exports_encord_agent_handler_stages(exports_encord_agent_handler_list_stage_spec_t *ret) {
  exports_encord_agent_handler_stage_spec_t *spec = calloc(1, sizeof *spec);
  agent_string_dup(&spec->stage, "triage");
  agent_string_dup(&spec->handler, "triage");
  spec->needs.ptr = malloc(sizeof(encord_agent_types_need_t));
  spec->needs.ptr[0] = ENCORD_AGENT_TYPES_NEED_LABEL_ROW;
  spec->needs.len = 1;
  spec->label_row_options.include_workflow_graph_node = true;
  spec->pathways.ptr = malloc(3 * sizeof(agent_string_t));
  spec->pathways.len = 3;
  for (int i = 0; i < 3; i++) agent_string_dup(&spec->pathways.ptr[i], PATHWAYS[i]);
  ret->ptr = spec;
  ret->len = 1;
}

bool exports_encord_agent_handler_start(agent_string_t *err) {
  (void)err;
  return true;
}

bool exports_encord_agent_handler_run(agent_string_t *stage, exports_encord_agent_handler_task_t *task,
                                      exports_encord_agent_handler_outcome_t *ret, agent_string_t *err) {
  agent_string_t row_json, ontology_json;
  if (!encord_agent_labels_label_row(&row_json, err)) {
    agent_string_free(stage);
    exports_encord_agent_handler_task_free(task);
    return false;  // the host's error, passed on
  }
  encord_agent_project_ontology(&ontology_json);
  char *row = c_string(&row_json), *onto = c_string(&ontology_json), *title = c_string(&task->data_title);
  agent_string_free(&row_json);
  agent_string_free(&ontology_json);

  ontology_t o = {0};
  any(get(onto, "objects"), find_person, &o);
  any(get(onto, "classifications"), find_quality, &o);
  bool blurry = any(get(row, "classification_answers"), answered_blurry, &o) || strstr(title, "blurry");
  bool person = o.person && any(get(row, "data_units"), unit_has_person, o.person);

  const char *pathway = blurry ? "needs annotation" : person ? "to review" : "done";
  ret->route.tag = ENCORD_AGENT_TYPES_ROUTE_PATHWAY;
  agent_string_dup(&ret->route.val.pathway, pathway);
  ret->label_row.is_some = false;
  ret->priority.is_some = true;
  ret->priority.val = blurry ? 1.0f : person ? 0.8f : 0.0f;

  free(o.person);
  free(o.quality);
  free(o.blurry);
  free(row);
  free(onto);
  free(title);
  agent_string_free(stage);
  exports_encord_agent_handler_task_free(task);
  return true;
}
