"""HTTP resources of theme_classification: parse, call the service, return."""
from __future__ import annotations

import logging

from flask import current_app
from flask_restx import Namespace, Resource, fields

from shared.api import text_model, text_payload, uploaded_file
from shared.logs import log_inputs

logger = logging.getLogger(__name__)

ns = Namespace("theme_classification", path="/", description="Themes and stocks of an article")

text_request = text_model(ns)
error_model = ns.model("ValidationError", {
    "errors": fields.Raw(example={"body": "Missing required parameter in the JSON body"}),
    "message": fields.String(example="Input payload validation failed"),
})
upload_error = ns.model("UploadError", {"error": fields.String(example="Row 3: column 'stock' is empty.")})
t5_pair = ns.model("T5Pair", {
    "theme": fields.String(example="유전자 치료제/분석"), "stock": fields.String(example="툴젠"),
    "score": fields.Float(example=-0.365, description="length-normalised log-probability, <= 0"),
})
tf_pair = ns.model("TfPair", {
    "theme": fields.String(example="유전자"), "stock": fields.String(example="툴젠"),
    "score": fields.Float(example=-0.434, description="ln cosine of article and theme keyword TF-IDF, <= 0"),
    "theme_count": fields.Integer(example=4), "stock_count": fields.Integer(example=3),
})
chosen_pair = ns.model("ChosenPair", {
    "theme": fields.String, "stock": fields.String, "score": fields.Float,
    "from": fields.String(enum=["tf", "t5"]),
})
combined = ns.model("ThemeInference", {
    "result": fields.List(fields.Nested(chosen_pair)),
    "t5_result": fields.List(fields.Nested(t5_pair)),
    "tf_result": fields.List(fields.Nested(tf_pair)),
})
upload_form = ns.parser()
upload_form.add_argument("file", location="files", type="FileStorage", required=True,
                         help="CSV theme list: columns theme, stock [, code, keywords, aliases, business]")


def _service():
    return current_app.extensions["theme_classification"]


def _article(endpoint: str) -> dict[str, str]:
    payload = text_payload(max_chars=current_app.config["MAX_TEXT_CHARS"])
    log_inputs(endpoint, title=payload["title"], body=payload["body"])
    logger.debug("inference")
    return payload


@ns.route("/t5_inference")
class T5Inference(Resource):
    @ns.expect(text_request)
    @ns.response(200, "theme-stock pairs chosen by the T5 classifier", [t5_pair])
    @ns.response(400, "missing field, not a string, not JSON, or text under 5 characters", error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """T5 theme classifier: the (theme, stock) pairs of an article."""
        return _service().t5_inference(**_article("t5_inference"))


@ns.route("/tf_inference")
class TfInference(Resource):
    @ns.expect(text_request)
    @ns.response(200, "for each listed stock found, its best-evidenced member theme", [tf_pair])
    @ns.response(400, "missing field, not a string, not JSON, or text under 5 characters", error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """TF-IDF matcher over the active theme list."""
        return _service().tf_inference(**_article("tf_inference"))


@ns.route("/theme_inference")
class ThemeInference(Resource):
    @ns.expect(text_request)
    @ns.response(200, "both results and the combined choice", combined)
    @ns.response(400, "missing field, not a string, not JSON, or text under 5 characters", error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """T5 and TF-IDF combined: stocks chosen by the T5, themes confirmed by the dictionary."""
        return _service().theme_inference(**_article("theme_inference"))


@ns.route("/upload")
class Upload(Resource):
    @ns.expect(upload_form)
    @ns.response(200, "the list is active and saved", ns.model("UploadOk", {"result": fields.String("success")}))
    @ns.response(400, "no file, or a malformed CSV (the message names the row or column)", upload_error)
    @ns.response(413, "file larger than MAX_UPLOAD_BYTES")
    @ns.response(507, "the server could not save the list; the previous one stays active", upload_error)
    def post(self):
        """Replace the active theme list with an uploaded CSV."""
        upload = uploaded_file("theme list", "curl -F file=@themes.csv http://HOST:PORT/upload")
        _service().upload(upload.read())
        return {"result": "success"}


@ns.route("/health")
class Health(Resource):
    def get(self):
        """A tiny forward pass on the model's device, the model and theme-list sizes."""
        return _service().health()
