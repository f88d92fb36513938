"""The OpenAI-compatible /v1 API."""
from flask import Blueprint

bp = Blueprint("gateway", __name__, url_prefix="/v1")
