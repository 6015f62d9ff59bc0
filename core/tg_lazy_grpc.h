/* gRPC C core, loaded on first use (dlopen of libgrpc by its soname) instead of linked.
 *
 * Why: the embedded default configuration sends nothing over gRPC, yet linking libgrpc
 * maps it with libgpr, absl, re2, upb and libstdc++ and runs their constructors and
 * relocations in every process: about 3 MB of the idle RSS (docs/ARCHITECTURE.md "Idle
 * memory"). So the executable has no NEEDED entry for libgrpc/libgpr; the gRPC exporters
 * call tg_lazy_grpc_load before their first gRPC call.
 *
 * How call sites stay unchanged: include this header instead of the <grpc/...> headers
 * (it includes the ones tailgate uses itself); it then #defines each function tailgate
 * calls to the member of the same name of the loaded table, whose type is the declared
 * function's (__typeof__), so the compiler still checks every call against gRPC's headers.
 * A gRPC header included after this one fails to compile (its declarations would be
 * macro-expanded), which is the reminder to add the header here. A function not in
 * TG_LAZY_GRPC_FNS fails to link (the executable does not link libgrpc): add it to the list.
 *
 * Contract: no function below may be called before tg_lazy_grpc_load returned TG_OK in
 * this process (the table holds NULL until then). */
#ifndef TG_LAZY_GRPC_H
#define TG_LAZY_GRPC_H

#include <grpc/byte_buffer.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/compression.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/slice.h>
#include <grpc/support/alloc.h>
#include <grpc/support/time.h>

/* Every gRPC core / gpr function tailgate calls (generated from `nm -u` of the callers). */
#define TG_LAZY_GRPC_FNS(X)                                                     \
  X(gpr_free)                                                                   \
  X(gpr_inf_future)                                                             \
  X(gpr_now)                                                                    \
  X(gpr_time_add)                                                               \
  X(gpr_time_from_millis)                                                       \
  X(grpc_byte_buffer_destroy)                                                   \
  X(grpc_byte_buffer_reader_destroy)                                            \
  X(grpc_byte_buffer_reader_init)                                               \
  X(grpc_byte_buffer_reader_readall)                                            \
  X(grpc_call_cancel)                                                           \
  X(grpc_call_start_batch)                                                      \
  X(grpc_call_unref)                                                            \
  X(grpc_channel_create)                                                        \
  X(grpc_channel_create_call)                                                   \
  X(grpc_channel_credentials_release)                                           \
  X(grpc_channel_destroy)                                                       \
  X(grpc_completion_queue_create_for_pluck)                                     \
  X(grpc_completion_queue_destroy)                                              \
  X(grpc_completion_queue_pluck)                                                \
  X(grpc_completion_queue_shutdown)                                             \
  X(grpc_empty_slice)                                                           \
  X(grpc_init)                                                                  \
  X(grpc_insecure_credentials_create)                                           \
  X(grpc_metadata_array_destroy)                                                \
  X(grpc_metadata_array_init)                                                   \
  X(grpc_raw_byte_buffer_create)                                                \
  X(grpc_raw_compressed_byte_buffer_create)                                     \
  X(grpc_shutdown_blocking)                                                     \
  X(grpc_slice_from_copied_buffer)                                              \
  X(grpc_slice_from_copied_string)                                              \
  X(grpc_slice_from_static_string)                                              \
  X(grpc_slice_str_cmp)                                                         \
  X(grpc_slice_to_c_string)                                                     \
  X(grpc_slice_unref)                                                           \
  X(grpc_ssl_credentials_create_ex)                                             \
  X(grpc_tls_certificate_provider_release)                                      \
  X(grpc_tls_certificate_provider_static_data_create)                           \
  X(grpc_tls_certificate_verifier_no_op_create)                                 \
  X(grpc_tls_certificate_verifier_release)                                      \
  X(grpc_tls_credentials_create)                                                \
  X(grpc_tls_credentials_options_create)                                        \
  X(grpc_tls_credentials_options_set_certificate_provider)                      \
  X(grpc_tls_credentials_options_set_certificate_verifier)                      \
  X(grpc_tls_credentials_options_set_check_call_host)                           \
  X(grpc_tls_credentials_options_set_verify_server_cert)                        \
  X(grpc_tls_credentials_options_watch_identity_key_cert_pairs)                 \
  X(grpc_tls_credentials_options_watch_root_certs)                              \
  X(grpc_tls_identity_pairs_add_pair)                                           \
  X(grpc_tls_identity_pairs_create)

typedef struct tg_lazy_grpc_fns {
#define TG_LAZY_GRPC_MEMBER_(name) __typeof__(name) *name;
  TG_LAZY_GRPC_FNS(TG_LAZY_GRPC_MEMBER_)
#undef TG_LAZY_GRPC_MEMBER_
} tg_lazy_grpc_fns;

/* Loads libgrpc (the soname the build linked against, e.g. libgrpc.so.29) and resolves
 * every function above, once per process (pthread_once; later calls return the first
 * outcome). Thread-safe. Returns NULL when loaded, else a static text "cannot load
 * <soname>: <dlerror or missing symbol>" for the caller's configuration error. Does not
 * call grpc_init (the exporters pair it with grpc_shutdown_blocking themselves). */
const char *tg_lazy_grpc_load(void);

/* The resolved table; its members are NULL until tg_lazy_grpc_load succeeded. */
const tg_lazy_grpc_fns *tg_lazy_grpc(void);

#ifndef TG_LAZY_GRPC_IMPL
#define gpr_free (tg_lazy_grpc()->gpr_free)
#define gpr_inf_future (tg_lazy_grpc()->gpr_inf_future)
#define gpr_now (tg_lazy_grpc()->gpr_now)
#define gpr_time_add (tg_lazy_grpc()->gpr_time_add)
#define gpr_time_from_millis (tg_lazy_grpc()->gpr_time_from_millis)
#define grpc_byte_buffer_destroy (tg_lazy_grpc()->grpc_byte_buffer_destroy)
#define grpc_byte_buffer_reader_destroy (tg_lazy_grpc()->grpc_byte_buffer_reader_destroy)
#define grpc_byte_buffer_reader_init (tg_lazy_grpc()->grpc_byte_buffer_reader_init)
#define grpc_byte_buffer_reader_readall (tg_lazy_grpc()->grpc_byte_buffer_reader_readall)
#define grpc_call_cancel (tg_lazy_grpc()->grpc_call_cancel)
#define grpc_call_start_batch (tg_lazy_grpc()->grpc_call_start_batch)
#define grpc_call_unref (tg_lazy_grpc()->grpc_call_unref)
#define grpc_channel_create (tg_lazy_grpc()->grpc_channel_create)
#define grpc_channel_create_call (tg_lazy_grpc()->grpc_channel_create_call)
#define grpc_channel_credentials_release (tg_lazy_grpc()->grpc_channel_credentials_release)
#define grpc_channel_destroy (tg_lazy_grpc()->grpc_channel_destroy)
#define grpc_completion_queue_create_for_pluck                                  \
  (tg_lazy_grpc()->grpc_completion_queue_create_for_pluck)
#define grpc_completion_queue_destroy (tg_lazy_grpc()->grpc_completion_queue_destroy)
#define grpc_completion_queue_pluck (tg_lazy_grpc()->grpc_completion_queue_pluck)
#define grpc_completion_queue_shutdown (tg_lazy_grpc()->grpc_completion_queue_shutdown)
#define grpc_empty_slice (tg_lazy_grpc()->grpc_empty_slice)
#define grpc_init (tg_lazy_grpc()->grpc_init)
#define grpc_insecure_credentials_create (tg_lazy_grpc()->grpc_insecure_credentials_create)
#define grpc_metadata_array_destroy (tg_lazy_grpc()->grpc_metadata_array_destroy)
#define grpc_metadata_array_init (tg_lazy_grpc()->grpc_metadata_array_init)
#define grpc_raw_byte_buffer_create (tg_lazy_grpc()->grpc_raw_byte_buffer_create)
#define grpc_raw_compressed_byte_buffer_create                                  \
  (tg_lazy_grpc()->grpc_raw_compressed_byte_buffer_create)
#define grpc_shutdown_blocking (tg_lazy_grpc()->grpc_shutdown_blocking)
#define grpc_slice_from_copied_buffer (tg_lazy_grpc()->grpc_slice_from_copied_buffer)
#define grpc_slice_from_copied_string (tg_lazy_grpc()->grpc_slice_from_copied_string)
#define grpc_slice_from_static_string (tg_lazy_grpc()->grpc_slice_from_static_string)
#define grpc_slice_str_cmp (tg_lazy_grpc()->grpc_slice_str_cmp)
#define grpc_slice_to_c_string (tg_lazy_grpc()->grpc_slice_to_c_string)
#define grpc_slice_unref (tg_lazy_grpc()->grpc_slice_unref)
#define grpc_ssl_credentials_create_ex (tg_lazy_grpc()->grpc_ssl_credentials_create_ex)
#define grpc_tls_certificate_provider_release                                   \
  (tg_lazy_grpc()->grpc_tls_certificate_provider_release)
#define grpc_tls_certificate_provider_static_data_create                        \
  (tg_lazy_grpc()->grpc_tls_certificate_provider_static_data_create)
#define grpc_tls_certificate_verifier_no_op_create                              \
  (tg_lazy_grpc()->grpc_tls_certificate_verifier_no_op_create)
#define grpc_tls_certificate_verifier_release                                   \
  (tg_lazy_grpc()->grpc_tls_certificate_verifier_release)
#define grpc_tls_credentials_create (tg_lazy_grpc()->grpc_tls_credentials_create)
#define grpc_tls_credentials_options_create (tg_lazy_grpc()->grpc_tls_credentials_options_create)
#define grpc_tls_credentials_options_set_certificate_provider                   \
  (tg_lazy_grpc()->grpc_tls_credentials_options_set_certificate_provider)
#define grpc_tls_credentials_options_set_certificate_verifier                   \
  (tg_lazy_grpc()->grpc_tls_credentials_options_set_certificate_verifier)
#define grpc_tls_credentials_options_set_check_call_host                        \
  (tg_lazy_grpc()->grpc_tls_credentials_options_set_check_call_host)
#define grpc_tls_credentials_options_set_verify_server_cert                     \
  (tg_lazy_grpc()->grpc_tls_credentials_options_set_verify_server_cert)
#define grpc_tls_credentials_options_watch_identity_key_cert_pairs              \
  (tg_lazy_grpc()->grpc_tls_credentials_options_watch_identity_key_cert_pairs)
#define grpc_tls_credentials_options_watch_root_certs                           \
  (tg_lazy_grpc()->grpc_tls_credentials_options_watch_root_certs)
#define grpc_tls_identity_pairs_add_pair (tg_lazy_grpc()->grpc_tls_identity_pairs_add_pair)
#define grpc_tls_identity_pairs_create (tg_lazy_grpc()->grpc_tls_identity_pairs_create)
#endif

#endif
