; KRS501 removed-mixed-precision-api: every call and every import statement.
; Which ones are mixed-precision APIs (`mixed_precision.experimental.*`, `set_policy`,
; `enable_mixed_precision_graph_rewrite`, `loss_scale=`) is decided in Rust through import
; resolution: `from tensorflow.keras.mixed_precision import experimental as mixed_precision`
; makes `mixed_precision.set_policy(...)` an experimental call with no `experimental` in its text.
(call
  function: [
    (identifier)
    (attribute)
  ]) @call

(import_from_statement) @import

(import_statement) @import
