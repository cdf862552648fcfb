; KRS601 run-eagerly-in-training: `compile(..., run_eagerly=True)`.
(call
  function: (attribute
    attribute: (identifier) @_method)
  arguments: (argument_list
    (keyword_argument
      name: (identifier) @_keyword
      value: (true)) @argument)
  (#eq? @_method "compile")
  (#eq? @_keyword "run_eagerly")) @call
