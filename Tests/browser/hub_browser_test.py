#!/usr/bin/env python3
"""Browser test of Magpie Hub: Debian's chromium + chromedriver through selenium (headless).

Driven by Tests/MagpieHubTests/BrowserTests.swift, which starts `magpie serve` and sets:
  MAGPIE_HUB_URL      the hub, e.g. http://127.0.0.1:43210
  MAGPIE_TESTDATA     optional shared test data (models/mobilenet_v2_1.0_224_quant.tflite, images/parrot.jpg)
  MAGPIE_SCREENSHOT   optional path for a PNG of the model page with the try-it result
Covers sign-up, upload through the form, search, try-it with an image file, download and subscribe.
Without the shared data the built-in preset model is downloaded and re-uploaded, and try-it must show 5 results.
Exit status 0 on success (plain unittest, no pytest needed).
"""
import hashlib
import os
import struct
import sys
import tempfile
import time
import unittest
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

BASE = os.environ.get("MAGPIE_HUB_URL", "http://127.0.0.1:8080").rstrip("/")
TESTDATA = os.environ.get("MAGPIE_TESTDATA", "")
SCREENSHOT = os.environ.get("MAGPIE_SCREENSHOT", "")
PRESET = "/api/models/magpie/mobilenet_v2_1.0_224/versions/latest/file"


def shared(path):
    """A file of the shared test data, or None."""
    if not TESTDATA:
        return None
    full = os.path.join(TESTDATA, path)
    return full if os.path.exists(full) else None


def bmp(width, height):
    """A small 24-bit BMP with a colour gradient."""
    row = (width * 3 + 3) // 4 * 4
    pixels = bytearray()
    for y in range(height):
        line = bytearray()
        for x in range(width):
            line += bytes((x * 255 // width, y * 255 // height, 128))
        pixels += line + bytes(row - len(line))
    header = b"BM" + struct.pack("<IHHI", 54 + len(pixels), 0, 0, 54)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + bytes(pixels)


def fetch(path, timeout=30):
    with urllib.request.urlopen(BASE + path, timeout=timeout) as response:
        return response.read()


class HubBrowserTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1200,1700",
                     "--hide-scrollbars"):
            options.add_argument(flag)
        # The driver path is given, so selenium downloads nothing.
        cls.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        cls.wait = WebDriverWait(cls.driver, 120)
        cls.temp = tempfile.mkdtemp(prefix="magpie-browser-")

    @classmethod
    def tearDownClass(cls):
        cls.driver.quit()

    def go(self, path):
        self.driver.get(BASE + path)

    def fill(self, name, value):
        field = self.driver.find_element(By.NAME, name)
        field.clear()
        field.send_keys(value)

    def model_file(self):
        """The model to upload: the real uint8 MobileNetV2, else the built-in preset downloaded from the hub."""
        real = shared("models/mobilenet_v2_1.0_224_quant.tflite")
        if real:
            return real, True
        deadline = time.time() + 600
        while True:  # the presets are built in the background at startup
            try:
                data = fetch(PRESET, timeout=60)
                break
            except Exception:
                if time.time() > deadline:
                    raise
                time.sleep(2)
        path = os.path.join(self.temp, "preset.tflite")
        with open(path, "wb") as f:
            f.write(data)
        return path, False

    def test_flow(self):
        d, wait = self.driver, self.wait

        # Sign up: redirected home, signed in.
        self.go("/signup")
        self.fill("name", "ada")
        self.fill("password", "correct horse battery")
        d.find_element(By.CSS_SELECTOR, "main form button").click()
        wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "header"), "Sign out ada"))

        # Upload through the form: the page of the new model opens.
        model_path, real = self.model_file()
        self.go("/new")
        self.fill("name", "mnv2")
        d.find_element(By.CSS_SELECTOR, "#upload input[type=file]").send_keys(model_path)
        d.find_element(By.CSS_SELECTOR, "#upload button").click()
        wait.until(EC.url_to_be(BASE + "/models/ada/mnv2"))
        self.assertIn("ada/mnv2", d.find_element(By.TAG_NAME, "h1").text)

        # Search finds it.
        self.go("/?q=mnv2")
        links = [a.text for a in d.find_elements(By.CSS_SELECTOR, "ul.models a")]
        self.assertIn("ada/mnv2", links)

        # Try it with an image file: five classes, macaw for the parrot with the real model.
        self.go("/models/ada/mnv2")
        image = shared("images/parrot.jpg") if real else None
        if not image:
            image = os.path.join(self.temp, "gradient.bmp")
            with open(image, "wb") as f:
                f.write(bmp(96, 64))
        d.find_element(By.ID, "tryit-file").send_keys(image)
        wait.until(lambda drv: len(drv.find_elements(By.CSS_SELECTOR, "#tryit-results li")) == 5)
        labels = [li.find_element(By.CLASS_NAME, "label").text for li in d.find_elements(By.CSS_SELECTOR, "#tryit-results li")]
        self.assertEqual(len(labels), 5)
        if real:
            self.assertIn("macaw", labels[0].lower(), labels)
        self.assertIn("inference", d.find_element(By.ID, "tryit-status").text)
        canvas_width = d.execute_script("return document.getElementById('tryit-canvas').width")
        self.assertGreater(canvas_width, 0)
        if SCREENSHOT:
            d.execute_script("document.getElementById('tryit').scrollIntoView()")
            d.save_screenshot(SCREENSHOT)

        # Download: the file's SHA-256 is the one the page shows.
        link = d.find_element(By.CSS_SELECTOR, "a.button[href$='/file']")
        shown = d.find_element(By.CSS_SELECTOR, "a.button[href$='/file'] + code").text.replace("sha256 ", "")
        with urllib.request.urlopen(link.get_attribute("href"), timeout=60) as response:
            body = response.read()
        self.assertEqual(hashlib.sha256(body).hexdigest(), shown)
        with open(model_path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), shown)

        # Subscribe: the button turns into Unfollow and the feed lists the model.
        d.find_element(By.XPATH, "//button[text()='Follow']").click()
        wait.until(EC.presence_of_element_located((By.XPATH, "//button[text()='Unfollow']")))
        self.go("/feed")
        self.assertIn("ada/mnv2", d.find_element(By.TAG_NAME, "main").text)


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
