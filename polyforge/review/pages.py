"""The review app's HTML pages: its Jinja2 templates (autoescaped: model output is untrusted text) and the one
way every route renders them, with the viewer and the page's content security policy."""

from pathlib import Path

import jinja2
from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from polyforge.review.highlight import code_html, text_html
from polyforge.review.security import PAGE_CSP

HERE = Path(__file__).parent
TEMPLATES = Jinja2Templates(env=jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True))
TEMPLATES.env.filters.update(code_html=code_html, text_html=text_html)


def page(request: Request, template: str, context: dict, status_code: int = 200) -> Response:
    response = TEMPLATES.TemplateResponse(request, template, {"viewer": request.state.viewer, **context},
                                          status_code=status_code)
    response.headers["content-security-policy"] = PAGE_CSP
    return response
