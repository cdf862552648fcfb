; KRS502 custom-loop-without-loss-scaling: `<optimizer>.apply_gradients(...)` / `<optimizer>.apply(...)`.
; Rust checks the file's policy (mixed_float16), the GradientTape around the call and what
; `<optimizer>` was built from.
(call
  function: (attribute
    object: (_) @optimizer
    attribute: (identifier) @_method)
  (#any-of? @_method "apply_gradients" "apply")) @apply
