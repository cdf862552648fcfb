#!/usr/bin/env python3
"""Helix test driver: runs hx in tmux with the shipped languages.toml and checks what the screen shows."""
import json
import os
import re
import subprocess
import sys
import time

tests_dir = os.environ["KLSP_TESTS_DIR"]
file = os.environ["KLSP_FILE"]
hx = sys.argv[1]
socket = sys.argv[2]
log_path = sys.argv[3]
artifacts = sys.argv[4]
exp = json.load(open(os.path.join(tests_dir, "expectations.json")))
failures = []


def say(msg):
    print(f"[helix] {msg}", file=sys.stderr, flush=True)


def fail(msg):
    failures.append(msg)
    say("FAIL: " + msg)


def tmux(*args, check=True):
    return subprocess.run(["tmux", "-S", socket, *args], check=check, capture_output=True, text=True).stdout


def screen():
    return tmux("capture-pane", "-p")


def keys(*k):
    tmux("send-keys", *k)


def escape():
    """Escape, then a pause: an Escape followed at once by a key reads as Alt+key in the terminal."""
    keys("Escape")
    time.sleep(0.15)


def wait_for(pred, timeout=10.0, what="condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = pred(screen())
        if got:
            return got
        time.sleep(0.05)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; screen:\n{screen()}")


def wait_settled(pred, timeout=5.0, what="condition"):
    """Like wait_for, but the value must read the same on three captures 0.1 s apart: tmux can be
    captured while Helix is halfway through writing a frame (picker gone, status line not yet redrawn)."""
    end = time.monotonic() + timeout
    seen = []
    while time.monotonic() < end:
        got = pred(screen())
        seen = (seen + [got])[-3:] if got else []
        if len(seen) == 3 and seen[0] == seen[1] == seen[2]:
            return got
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} to settle (last {seen}); screen:\n{screen()}")


def status_line(s):
    lines = [l for l in s.splitlines() if l.strip()]
    for l in reversed(lines):
        if re.search(r"\b(NOR|INS|SEL)\b", l):
            return l
    return ""


def position(s):
    """(line, col, selection length) from the status line: 'sel-length line:col' (1-based)."""
    m = re.search(r"(\d+) chars?\s+(\d+):(\d+)\s*$", status_line(s))
    return (int(m.group(2)), int(m.group(3)), int(m.group(1))) if m else None


PICKER_ROW = re.compile(r"│\s*(>)?\s*(ERROR|WARN|INFO|HINT)\s+(KRS\d+)\s")


def picker_rows(s):
    rows = []
    for line in s.splitlines():
        m = PICKER_ROW.search(line)
        if m:
            rows.append((bool(m.group(1)), m.group(3)))
    return rows


def open_diagnostics_picker(min_rows=1, timeout=10.0):
    """Opens Space-d until it lists at least `min_rows` keras-lsp rows (it does not live-update)."""
    end = time.monotonic() + timeout
    while True:
        escape()
        keys("Space", "d")
        try:
            return wait_for(lambda s: (lambda r: r if len(r) >= min_rows else None)(picker_rows(s)), 1.0, "rows")
        except TimeoutError:
            if time.monotonic() > end:
                raise TimeoutError(f"the diagnostics picker never listed {min_rows} keras-lsp rows; screen:\n{screen()}")


def close_overlays():
    escape()


def goto_diagnostic(code):
    """Opens Space-d, moves to the row of `code` and jumps there (Helix selects its range)."""
    rows = open_diagnostics_picker()
    codes = [c for _, c in rows]
    if code not in codes:
        close_overlays()
        return None
    for _ in range(codes.index(code)):
        keys("Down")
    wait_for(lambda s: any(sel and c == code for sel, c in picker_rows(s)), 5, f"{code} highlighted in the picker")
    keys("Enter")
    return wait_settled(lambda s: None if picker_rows(s) else position(s), 5, "the picker to close")


def menu_rows(s):
    """Titles in the code-action popup (a borderless menu beside the cursor)."""
    titles = []
    for line in s.splitlines():
        for m in re.finditer(r"(Fix [^│]*?|Disable [^│]*?)\s{2,}|(Fix [^│]*|Disable [^│]*)$", line):
            titles.append((m.group(1) or m.group(2)).strip())
    return titles


def apply_code_action(prefix):
    escape()
    keys("Space", "a")
    titles = wait_for(lambda s: menu_rows(s) or None, 10, "the code-action menu")
    time.sleep(0.2)
    titles = menu_rows(screen())
    say("code actions offered: " + " | ".join(titles))
    idx = next((i for i, t in enumerate(titles) if t.startswith(prefix)), None)
    if idx is None:
        close_overlays()
        return False
    for _ in range(idx):
        keys("Down")
    keys("Enter")
    return True


def file_text():
    escape()
    keys(":w", "Enter")
    time.sleep(0.3)
    with open(file) as f:
        return f.read()


def read(rel):
    with open(os.path.join(tests_dir, rel)) as f:
        return f.read()


def expect_file(rel, what):
    want = read(rel)
    end = time.monotonic() + 10
    got = ""
    while time.monotonic() < end:
        got = file_text()
        if got == want:
            return True
        time.sleep(0.2)
    fail(f"{what}: file differs from {rel}:\n{got}")
    return False


def main():
    rows = open_diagnostics_picker(len(exp["diagnostics"]), 20)
    time.sleep(0.3)  # a late second publish (push + pull) would show up as duplicates
    rows = open_diagnostics_picker(len(exp["diagnostics"]), 5)
    close_overlays()
    codes = [c for _, c in rows]
    say("diagnostics picker: " + " ".join(codes))
    for e in exp["diagnostics"]:
        n = codes.count(e["code"])
        if n != 1:
            fail(f"{e['code']} appears {n} times in the diagnostics picker (want 1)")
            continue
        pos = goto_diagnostic(e["code"])
        l0, c0, l1, c1 = e["range"]
        # Jumping from the picker selects the diagnostic's range with the cursor on its first character.
        want = (l0 + 1, c0 + 1, c1 - c0) if l0 == l1 else None
        if want and pos != want:
            fail(f"{e['code']}: Helix selected line:col/length {pos}, want {want} for range {e['range']}")

    qf = exp["quickfix"]
    goto_diagnostic(qf["code"])
    if not apply_code_action(qf["titlePrefix"]):
        fail(f"no code action titled '{qf['titlePrefix']}...'")
    elif expect_file(qf["after"], "quick fix"):
        end = time.monotonic() + 10
        while qf["code"] in [c for _, c in open_diagnostics_picker()]:
            if time.monotonic() > end:
                fail(f"quick fix: {qf['code']} still in the diagnostics picker 10 s after the fix")
                break
            time.sleep(0.2)
        close_overlays()

    # Helix has no "source action" command: fix-all is in the Space-a menu, which asks for every
    # kind, and keras-lsp lists it there only when a safe fix is left to apply.
    fa = exp["fixAll"]
    remaining = [e["code"] for e in exp["diagnostics"] if e["code"] != qf["code"]]
    has_safe_fix = read(fa["after"]) != read(qf["after"])
    goto_diagnostic(remaining[0])
    offered = apply_code_action(fa["titlePrefix"])
    if has_safe_fix and not offered:
        fail(f"no code action titled '{fa['titlePrefix']}...' (fix-all)")
    elif not has_safe_fix and offered:
        fail("fix-all offered in the menu although no safe fix is left")
    expect_file(fa["after"], "fix-all")


try:
    main()
except Exception as err:  # the editor's screen goes to the artifacts either way
    fail(f"{type(err).__name__}: {err}")
finally:
    with open(os.path.join(artifacts, "helix-screen.txt"), "w") as f:
        f.write(screen())
sys.exit(1 if failures else 0)
