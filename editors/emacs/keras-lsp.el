;;; keras-lsp.el --- keras-lsp for Emacs through eglot  -*- lexical-binding: t; -*-

;; Registers keras-lsp with eglot for Python buffers and adds `keras-lsp-fix-all' and
;; `keras-lsp-benchmark'.  Tested with Emacs 28.2 and eglot 1.9.  Load it from your init file:
;;
;;   (load "/path/to/keras-lsp/editors/emacs/keras-lsp.el")
;;   (add-hook 'python-mode-hook #'eglot-ensure)

;;; Code:

(require 'eglot)
(require 'flymake)

(defgroup keras-lsp nil
  "Keras/TensorFlow training pitfalls, found by keras-lsp."
  :group 'tools
  :prefix "keras-lsp-")

(defcustom keras-lsp-command '("keras-lsp" "server")
  "Program and arguments that start the keras-lsp language server."
  :type '(repeat string))

(defcustom keras-lsp-initialization-options nil
  "Server settings sent at start-up, as a plist.
For example (:ignore [\"KRS401\"] :python \"/path/to/.venv/bin/python\")."
  :type 'plist)

(defun keras-lsp--contact (&optional _interactive)
  "The eglot contact for keras-lsp, with the current settings."
  (append keras-lsp-command
          (list :initializationOptions (or keras-lsp-initialization-options (make-hash-table)))))

(add-to-list 'eglot-server-programs
             '((python-mode python-ts-mode) . keras-lsp--contact))

(defun keras-lsp-fix-all ()
  "Apply every safe keras-lsp fix in the current buffer."
  (interactive)
  (eglot-code-actions (point-min) (point-max) "source.fixAll.keras-lsp" t))

(defun keras-lsp--finding-at-point ()
  "The LSP diagnostic (a plist) of the first keras-lsp finding on this line."
  (cl-loop for diag in (flymake-diagnostics (line-beginning-position) (line-end-position))
           for lsp = (cdr (assoc 'eglot-lsp-diag (eglot--diag-data diag)))
           when (and lsp (equal (plist-get lsp :source) "keras-lsp"))
           return lsp))

(defun keras-lsp-benchmark ()
  "Measure the keras-lsp finding on the current line (keras-lsp.runBenchmark)."
  (interactive)
  (let ((finding (keras-lsp--finding-at-point))
        (server (eglot--current-server-or-lose)))
    (unless finding (user-error "No keras-lsp finding on this line"))
    (let ((code (plist-get finding :code)))
      (message "keras-lsp: measuring %s..." code)
      (jsonrpc-async-request
       server :workspace/executeCommand
       (list :command "keras-lsp.runBenchmark"
             :arguments (vector (eglot--path-to-uri (buffer-file-name)) code (plist-get finding :range)))
       :success-fn (lambda (result)
                     (message "keras-lsp benchmark %s: %s" code
                              (or (and (listp result) (plist-get result :summary))
                                  (format "%S" result))))
       :error-fn (lambda (err)
                   (message "keras-lsp benchmark %s failed: %s" code (plist-get err :message)))
       :timeout 600))))

(provide 'keras-lsp)
;;; keras-lsp.el ends here
