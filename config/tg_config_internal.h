/* Internal to config/ and its tests: loading against an explicit registry, and the
 * service section's validation (tg_config_service.c). */
#ifndef TG_CONFIG_INTERNAL_H
#define TG_CONFIG_INTERNAL_H

#include "tg_config.h"

/* As tg_config_load_text / tg_config_load_file, but components are looked up in
 * registry (a NULL-terminated array) instead of the build's tg_registry. Unit tests and
 * fuzz targets use this with small fake components. */
tg_config *tg_config_load_text_with_registry(const char *name, const char *text, size_t len,
                                             const tg_component *const *registry,
                                             tg_diag *diag);
tg_config *tg_config_load_file_with_registry(const char *path,
                                             const tg_component *const *registry,
                                             tg_diag *diag);

/* Validates `service:` (node may be NULL when the section is missing; where is the
 * position to blame then) and fills config's pipelines, extensions and telemetry.
 * Needs config->components complete. */
void tg_config_load_service(tg_config *config, const tg_yaml_node *node,
                            const tg_yaml_pos *where, tg_diag *diag);

/* Reports every exporter whose `endpoint` names one of the configured receivers'
 * endpoints (same port, same or local host): it would send tailgate's output back into
 * its own input, a loop. Reads endpoints through the components' key tables (string keys
 * named `endpoint`, a receiver's only when its section is present). */
void tg_config_check_loops(const tg_config *config, tg_diag *diag);
/* Every endpoint a receiver or extension listens on has the syntax start-up accepts
 * (tg_endpoint_split: the same function), reported at the value's position. */
void tg_config_check_listen_endpoints(const tg_config *config, tg_diag *diag);

#endif
