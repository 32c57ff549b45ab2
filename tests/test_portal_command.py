"""manage.py webhooks_portal_link: the link `make run` prints for the walkthrough project."""

import io
import re
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command
from django.test import Client

from webhooks.models import PortalSession

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
def test_the_command_prints_a_link_that_opens_the_portal():
    project, out, err = uuid.uuid4(), io.StringIO(), io.StringIO()

    call_command("webhooks_portal_link", project=str(project), stdout=out, stderr=err)

    url = urlsplit(out.getvalue().strip())
    assert (url.scheme, url.netloc, url.path) == ("http", "127.0.0.1:8000", "/portal/open")
    assert "open it within 15 minutes" in err.getvalue()
    opened = Client().get(f"{url.path}?{url.query}")
    assert (opened.status_code, opened["Location"]) == (302, "/portal/")
    session = PortalSession.objects.get()
    assert (session.project_id, session.role) == (project, "read_write")


def test_make_run_prints_a_link_for_the_readme_walkthrough_project():
    makefile = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()

    project = re.search(r"^WALKTHROUGH_PROJECT := (\S+)$", makefile, re.M).group(1)
    assert makefile.count("webhooks_portal_link --project $(WALKTHROUGH_PROJECT)") == 2
    assert f"PROJECT={project}\n" in readme
