"""Element's single sign-on in a real headless Chromium: Synapse's SSO redirect, roomkey's
sign-in page, and back to Synapse's confirmation page ("Continue to your account").

Run by `tests/oidc_synapse.rs` (`element_signs_in_through_roomkey_in_chromium`), which
starts Synapse and roomkey and registers the account first. Prints the confirmation
page's continue link (it carries the `loginToken` Element would use) as one JSON line on
stdout. Exit 77 when Chromium, chromedriver or Selenium is missing.
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from join_page import CHROMEDRIVER, CHROMIUM, browser  # noqa: E402  (exits 77 without Selenium)

import shutil  # noqa: E402

from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def log(message):
    print(f"synapse_sso: {message}", file=sys.stderr, flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--start", required=True, help="Synapse's SSO redirect URL")
    parser.add_argument("--roomkey", required=True, help="roomkey's base URL")
    parser.add_argument("--client-redirect", required=True, help="where Element waits")
    parser.add_argument("--login", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--screenshots", required=True)
    args = parser.parse_args()
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        print(f"skipped: {CHROMIUM} or {CHROMEDRIVER} is missing", file=sys.stderr)
        return 77
    os.makedirs(args.screenshots, exist_ok=True)

    def shot(name):
        path = os.path.join(args.screenshots, f"{name}.png")
        driver.save_screenshot(path)
        log(f"screenshot {path}")

    driver = browser("en")
    try:
        # Synapse sends the browser to roomkey's authorize endpoint, which shows sign-in.
        driver.get(args.start)
        WebDriverWait(driver, 20).until(lambda d: d.find_elements(By.ID, "login"))
        assert driver.current_url.startswith(args.roomkey + "/oidc/authorize?"), driver.current_url
        shot("sso-1-roomkey-sign-in")
        driver.find_element(By.ID, "login").send_keys(args.login)
        driver.find_element(By.ID, "password").send_keys(args.password)
        form = driver.find_element(By.CSS_SELECTOR, "form[action$='/oidc/sign-in']")
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        # roomkey redirects to Synapse's callback with the code; Synapse, not trusting
        # this client URL by itself, asks the user to confirm: its continue link carries
        # the login token.
        def continue_link(d):
            for anchor in d.find_elements(By.TAG_NAME, "a"):
                href = anchor.get_attribute("href") or ""
                if href.startswith(args.client_redirect) and "loginToken=" in href:
                    return href
            return None

        try:
            link = WebDriverWait(driver, 20).until(continue_link)
        except Exception:
            shot("sso-failed")
            raise AssertionError(
                f"no continue link at {driver.current_url}: {driver.page_source[:2000]}"
            )
        assert "/_synapse/client/oidc/callback" in driver.current_url, driver.current_url
        shot("sso-2-synapse-confirmation")
        print(json.dumps({"continue": link, "page": driver.current_url}), flush=True)
        return 0
    finally:
        driver.quit()


if __name__ == "__main__":
    sys.exit(main())
