"""`make lab` gives a JupyterLab where a paired script opens as a notebook on the project's kernel.

One server, started through the Makefile's own `lab-server` target (so the settings `make lab` ships are the
ones tested), serves a copy of two pairs; the browser tests drive Debian's headless Chromium like a person.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

from conftest import ROOT

TOKEN = "lnp-test-token"
KERNEL_NAME = "lerobot_notebook_pipeline (.venv)"
PAIRS = ("make_sim_dataset", "train")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1000")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict:
    """Call the Jupyter server's REST API with the test token."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}/api/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def serving_folder(folder):
    """A folder laid out like the checkout: jupytext.toml, two pairs, and the package the notebooks import."""
    for name in ("jupytext.toml", *(f"{pair}.{ext}" for pair in PAIRS for ext in ("py", "ipynb"))):
        shutil.copy(ROOT / name, folder / name)
    (folder / "lerobot_notebook_pipeline").symlink_to(ROOT / "lerobot_notebook_pipeline")
    return folder


def lab_server_env(home) -> dict:
    """The test's environment, less make's own variables, with lab user settings and workspaces kept in `home`."""
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "LNP_ARGS")}
    return {**env, "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"), "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}


def wait_until_serving(process, port: int, timeout: float = 90) -> None:
    """Poll the server's status until it answers; fail with its log if it exits or takes too long."""
    deadline = time.time() + timeout
    while True:
        try:
            api(port, "status")
            return
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                pytest.fail(f"make lab-server did not start: {process.stderr.read()[-2000:]}")
            time.sleep(0.5)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab-server` (what `make lab` runs) serving a copy of two paired scripts; yields (port, folder)."""
    folder = serving_folder(tmp_path_factory.mktemp("lab"))
    port = free_port()
    args = f"--no-browser --port={port} --ip=127.0.0.1 --ServerApp.root_dir={folder} --IdentityProvider.token={TOKEN}"
    process = subprocess.Popen(["make", "-s", "-C", str(ROOT), "lab-server", f"LAB_ARGS={args}"],
                               env=lab_server_env(tmp_path_factory.mktemp("lab-home")), start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wait_until_serving(process, port)
    yield port, folder
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def test_paired_script_opens_as_a_notebook_and_saving_writes_both_files(lab):
    port, folder = lab
    model = api(port, "contents/make_sim_dataset.py?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert any(c["cell_type"] == "markdown" for c in cells) and any(c["cell_type"] == "code" for c in cells)
    assert any("argparse" in c["source"] for c in cells if c["cell_type"] == "code")

    cells.append({"cell_type": "code", "source": "saved_through_the_api = True", "metadata": {},
                  "outputs": [], "execution_count": None})
    api(port, "contents/make_sim_dataset.py", "PUT", {"type": "notebook", "format": "json",
                                                       "content": model["content"]})
    assert "saved_through_the_api = True" in (folder / "make_sim_dataset.py").read_text()
    assert "saved_through_the_api = True" in (folder / "make_sim_dataset.ipynb").read_text()


def test_every_notebook_runs_on_the_project_kernel():
    for notebook in sorted(ROOT.glob("*.ipynb")):
        kernelspec = json.loads(notebook.read_text())["metadata"].get("kernelspec", {})
        assert kernelspec.get("name") == "lerobot_notebook_pipeline", f"{notebook.name}: no project kernelspec"
        assert kernelspec.get("display_name") == KERNEL_NAME, notebook.name


# ---- in a browser, as a person sees it -------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    """Headless Chromium (Debian's chromium and chromium-driver) on the lab's start page."""
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver_path):
        pytest.skip("Chromium is missing: apt-get install chromium chromium-driver (.ci/run does it)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(120)  # a page that never loads fails the test instead of holding up the run
    driver.get(f"http://127.0.0.1:{lab[0]}/lab?token={TOKEN}")
    yield driver
    driver.quit()


def wait_for(driver, condition, timeout: float = 60, what: str = "the page"):
    """Wait until condition(driver) is truthy and return it; on a timeout, fail saying what never appeared."""
    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)
    except TimeoutException:
        pytest.fail(f"timed out waiting for {what}")


def css(driver, selector: str) -> list:
    """The elements matching a CSS selector."""
    return driver.find_elements("css selector", selector)


def open_from_file_browser(driver, name: str):
    """Double-click `name` in the file browser, as a person does, and return the notebook panel it opens."""
    xpath = f"//li[contains(@class, 'jp-DirListing-item')][.//span[text()='{name}']]"
    item = wait_for(driver, lambda d: [e for e in d.find_elements("xpath", xpath) if e.is_displayed()],
                    what=f"{name} in the file browser")[0]
    ActionChains(driver).double_click(item).perform()
    shown = "#jp-main-dock-panel > .lm-Widget:not(.lm-mod-hidden)"
    wait_for(driver, lambda d: len(css(d, f"{shown} .jp-Notebook .jp-Cell")) >= 5 or css(d, f"{shown} .jp-FileEditor"),
             what=f"{name} to open")
    assert not css(driver, f"{shown} .jp-FileEditor"), f"{name} opened in the text editor, not as a notebook"
    return css(driver, f"{shown}.jp-NotebookPanel")[0]


def on_project_kernel(driver, panel) -> bool:
    """True once the panel's kernel is the project's and idle, with no dialog (such as "Select Kernel") open."""
    assert not css(driver, ".jp-Dialog"), f"a dialog opened: {css(driver, '.jp-Dialog')[0].text}"
    names = panel.find_elements("css selector", ".jp-Toolbar-kernelName")
    status = panel.find_elements("css selector", ".jp-Notebook-ExecutionIndicator")
    return bool(names and KERNEL_NAME in names[0].text and status and status[0].get_attribute("data-status") == "idle")


def test_double_clicking_a_script_opens_a_notebook_that_runs(browser, tmp_path_factory):
    panel = open_from_file_browser(browser, "train.py")
    wait_for(browser, lambda d: on_project_kernel(d, panel), what=f"the {KERNEL_NAME} kernel to be idle")

    parameters = panel.find_elements("css selector", ".jp-CodeCell")[0]
    parameters.find_element("css selector", ".jp-InputPrompt").click()
    browser.switch_to.active_element.send_keys(Keys.SHIFT + Keys.ENTER)  # run the cell, as a person does
    prompt = parameters.find_element("css selector", ".jp-InputPrompt")
    wait_for(browser, lambda d: prompt.text.strip() == "[1]:", what="the parameters cell's execution count")
    wait_for(browser, lambda d: on_project_kernel(d, panel), what="the kernel to be idle after the cell")
    outputs = parameters.find_element("css selector", ".jp-OutputArea").text
    assert "Traceback" not in outputs and "Error" not in outputs, outputs
    browser.execute_script("arguments[0].scrollIntoView()", parameters)
    browser.save_screenshot(str(tmp_path_factory.mktemp("screenshots") / "train_py_as_notebook.png"))


def test_opening_a_notebook_asks_for_no_kernel(browser):
    panel = open_from_file_browser(browser, "train.ipynb")
    wait_for(browser, lambda d: on_project_kernel(d, panel), what=f"the {KERNEL_NAME} kernel to be idle")
