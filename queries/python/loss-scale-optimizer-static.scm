; KRS504 loss-scale-optimizer-static: `<callee>(..., dynamic=False)`; Rust resolves the callee to
; `LossScaleOptimizer`.
(call
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (false)) @dynamic)
  (#eq? @_keyword "dynamic")) @call
