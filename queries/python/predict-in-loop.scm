; KRS402 predict-in-loop: the whole module, once. The rule walks the tree itself because deciding
; whether a `predict` receiver is a Keras model means resolving names through scopes, which it
; memoises per file (per-call matches would rescan the module for every `predict`).
(module) @module
