"""checklib.py - the pass/fail bookkeeping of the Python test scripts.

    from checklib import check, summary
    check(cond, "what is checked", "detail shown on failure")
    sys.exit(summary("name"))

Prints "ok   what" or "FAIL what: detail" per check; summary prints the
count of failures and returns the exit status (0 all passed, 1 not).
"""

failures = 0


def check(cond, what, detail=""):
    global failures
    if cond:
        print(f"ok   {what}")
    else:
        failures += 1
        print(f"FAIL {what}" + (f": {detail}" if detail else ""))
    return bool(cond)


def summary(name):
    print(f"{name}: {'all passed' if not failures else f'{failures} failed'}")
    return 1 if failures else 0
