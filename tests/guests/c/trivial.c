// The smallest C agent: serves `pre-label`, needs nothing, stays. Measures
// the per-task overhead of a C component (scripts/bench-languages.sh).
#include <stdlib.h>

#include "agent.h"

void exports_encord_agent_handler_stages(exports_encord_agent_handler_list_stage_spec_t *ret) {
  exports_encord_agent_handler_stage_spec_t *spec = calloc(1, sizeof *spec);
  agent_string_dup(&spec->stage, "pre-label");
  agent_string_dup(&spec->handler, "trivial");
  spec->label_row_options.include_workflow_graph_node = true;
  ret->ptr = spec;
  ret->len = 1;
}

bool exports_encord_agent_handler_start(agent_string_t *err) {
  (void)err;
  return true;
}

bool exports_encord_agent_handler_run(agent_string_t *stage, exports_encord_agent_handler_task_t *task,
                                      exports_encord_agent_handler_outcome_t *ret, agent_string_t *err) {
  (void)err;
  ret->route.tag = ENCORD_AGENT_TYPES_ROUTE_STAY;
  ret->label_row.is_some = false;
  ret->priority.is_some = false;
  agent_string_free(stage);
  exports_encord_agent_handler_task_free(task);
  return true;
}
