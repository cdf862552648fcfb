;;; test.el --- Emacs 28 + eglot test of editors/emacs/keras-lsp.el  -*- lexical-binding: t; -*-
;; Run: emacs -Q --batch -l test.el (env: KLSP_TESTS_DIR, KLSP_FILE, KLSP_REPO).

(require 'cl-lib)
(require 'json)
(setq package-directory-list (cons "/usr/share/emacs/site-lisp/elpa" package-directory-list))
(package-initialize)

(defvar klsp-failures nil)
(defun klsp-log (fmt &rest args)
  (princ (concat "[emacs] " (apply #'format fmt args) "\n") #'external-debugging-output))
(defun klsp-fail (fmt &rest args)
  (let ((msg (apply #'format fmt args)))
    (push msg klsp-failures)
    (klsp-log "FAIL: %s" msg)))

(defvar klsp-tests-dir (getenv "KLSP_TESTS_DIR"))
(defvar klsp-exp (let ((json-object-type 'plist) (json-array-type 'list) (json-key-type 'keyword))
                   (json-read-file (expand-file-name "expectations.json" klsp-tests-dir))))
(defun klsp-golden (rel)
  (with-temp-buffer
    (insert-file-contents (expand-file-name rel klsp-tests-dir))
    (buffer-string)))

(defun klsp-run-idle-timers ()
  "Run the idle timers (eglot's didChange, flymake's re-check): batch Emacs is never idle."
  (dolist (timer (copy-sequence timer-idle-list))
    (timer-event-handler timer)))

(defun klsp-wait (pred seconds)
  "Process events until PRED is non-nil or SECONDS pass; return PRED's value."
  (let ((end (+ (float-time) seconds)) (v nil))
    (while (and (not (setq v (funcall pred))) (< (float-time) end))
      (accept-process-output nil 0.05)
      (klsp-run-idle-timers))
    v))

(defun klsp-diags ()
  "keras-lsp diagnostics as flymake shows them: (CODE L0 C0 L1 C1), 0-based."
  (cl-loop for d in (flymake-diagnostics)
           for lsp = (cdr (assoc 'eglot-lsp-diag (eglot--diag-data d)))
           when (and lsp (equal (plist-get lsp :source) "keras-lsp"))
           collect (let ((b (flymake-diagnostic-beg d)) (e (flymake-diagnostic-end d)))
                     (list (plist-get lsp :code)
                           (1- (line-number-at-pos b)) (save-excursion (goto-char b) (current-column))
                           (1- (line-number-at-pos e)) (save-excursion (goto-char e) (current-column))))))

(defun klsp-pick-action (prefix thunk)
  "Run THUNK, answering eglot's code-action prompt with the title starting with PREFIX."
  (let ((offered nil) (picked nil))
    (cl-letf (((symbol-function 'completing-read)
               (lambda (_prompt collection &rest _)
                 (setq offered (mapcar #'car collection))
                 (setq picked (cl-find-if (lambda (title) (string-prefix-p prefix title)) offered))
                 (or picked (keyboard-quit)))))
      ;; A keyboard event, so eglot asks in the minibuffer rather than with a popup menu.
      (let ((last-nonmenu-event ?\r))
        (funcall thunk)))
    (klsp-log "code actions offered: %s" (mapconcat #'identity offered " | "))
    picked))

(defun klsp-expect-buffer (rel what)
  (let ((want (klsp-golden rel)))
    (or (klsp-wait (lambda () (string= (buffer-string) want)) 10)
        (progn (klsp-fail "%s: buffer differs from %s:\n%s" what rel (buffer-string)) nil))))

(defun klsp-main ()
  (load (expand-file-name "editors/emacs/keras-lsp.el" (getenv "KLSP_REPO")))
  (find-file (getenv "KLSP_FILE"))
  (unless (derived-mode-p 'python-mode) (error "fixture is not in python-mode"))
  (apply #'eglot (eglot--guess-contact))
  (unless (klsp-wait (lambda () (eglot-current-server)) 20) (error "eglot did not connect"))
  (flymake-start)
  (let* ((expected (plist-get klsp-exp :diagnostics))
         (got (klsp-wait (lambda () (let ((d (klsp-diags))) (and (>= (length d) (length expected)) d))) 20)))
    (accept-process-output nil 0.3) ; a late second publish would show up as duplicates
    (setq got (klsp-diags))
    (klsp-log "diagnostics: %S" got)
    (dolist (e expected)
      (let* ((want (cons (plist-get e :code) (plist-get e :range)))
             (n (cl-count want got :test #'equal)))
        (unless (= n 1) (klsp-fail "%S appears %d times (want 1)" want n)))))
  ;; Quick fix: M-x eglot-code-actions at the finding, choosing the fix in the prompt.
  (let* ((qf (plist-get klsp-exp :quickfix))
         (code (plist-get qf :code))
         (pos (cl-find code (plist-get klsp-exp :diagnostics) :key (lambda (e) (plist-get e :code)) :test #'equal))
         (range (plist-get pos :range)))
    (goto-char (point-min))
    (forward-line (nth 0 range))
    (forward-char (nth 1 range))
    (if (not (klsp-pick-action (plist-get qf :titlePrefix) (lambda () (call-interactively #'eglot-code-actions))))
        (klsp-fail "no code action titled '%s...'" (plist-get qf :titlePrefix))
      (when (klsp-expect-buffer (plist-get qf :after) "quick fix")
        (unless (klsp-wait (lambda () (not (assoc code (klsp-diags)))) 10)
          (klsp-fail "quick fix: %s still reported: %S" code (klsp-diags))))))
  ;; Fix-all: the command keras-lsp.el defines.
  (call-interactively #'keras-lsp-fix-all)
  (klsp-expect-buffer (plist-get (plist-get klsp-exp :fixAll) :after) "fix-all"))

(condition-case err
    (klsp-main)
  (error (klsp-fail "error: %S" err)))
(ignore-errors (eglot-shutdown (eglot-current-server)))
(if klsp-failures
    (kill-emacs 1)
  (klsp-log "all checks passed")
  (kill-emacs 0))
