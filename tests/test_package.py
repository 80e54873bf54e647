import subprocess
import sys


def test_import_mindscreen_stays_light() -> None:
    code = (
        "import sys, mindscreen, mindscreen.config, mindscreen.corpus;"
        "heavy = [m for m in ('torch', 'transformers', 'optuna', 'fastapi', 'ray') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
