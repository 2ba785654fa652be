import subprocess
import sys


def run_cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "jaxseries", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)


def test_module_and_console_script_are_the_same_cli():
    import shutil
    script = shutil.which("jaxseries") or str(__import__("pathlib").Path(sys.executable).parent / "jaxseries")
    as_module = run_cli("--help")
    as_script = subprocess.run([script, "--help"], capture_output=True, text=True)
    assert as_module.returncode == as_script.returncode == 0
    assert as_module.stdout.replace("__main__.py", "jaxseries") == as_script.stdout
    assert "demo" in as_module.stdout
