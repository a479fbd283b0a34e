"""HTTP resources of theme_generation: parse, call the service, return."""
from __future__ import annotations

import logging

from flask import current_app
from flask_restx import Namespace, Resource, fields

from shared.api import text_model, text_payload, uploaded_file
from shared.logs import log_inputs, one_line

logger = logging.getLogger(__name__)

ns = Namespace("theme_generation", path="/", description="Sentence-level themes, relevance and clustering")

text_request = text_model(ns)
error_model = ns.model("ValidationError", {
    "errors": fields.Raw(example={"body": "Missing required parameter in the JSON body"}),
    "message": fields.String(example="Input payload validation failed"),
})
upload_error = ns.model("ClusteringError", {
    "error": fields.String(example="The CSV has no 'result' column (the JSON list /inference returned for the "
                                   "article). Expected a header row with objid,result; the header read was: objid")})
pair = ns.model("GeneratedPair", {
    "theme": fields.String(example="유전자 치료제/분석"), "stock": fields.String(example="툴젠"),
    "score": fields.Float(example=-0.002, description="length-normalised log-probability of the sentence's "
                                                      "generated sequence (shared by its pairs); 없음: -10"),
})
sentence_result = ns.model("SentenceResult", {
    "idx": fields.Integer(example=0, description="0 is the title, then the body's sentences in order"),
    "result": fields.List(fields.Nested(pair)),
    "sentence": fields.String(example="툴젠, 유전자교정 CAR-T 세포치료제 호주 이어 중국에 기술이전"),
})
inference_pair = ns.model("InferencePair", {
    "theme": fields.String(example="유전자 치료제/분석"), "stock": fields.String(example="툴젠"),
    "score": fields.Float(example=-0.002, description="gen_score + rel_score, 3 decimals"),
    "gen_score": fields.Float(example=-0.002), "rel_score": fields.Float(example=-0.0),
    "sentence": fields.String,
})
relevance_answer = ns.model("Relevance", {
    "result": fields.Integer(example=1, enum=[0, 1]),
    "result_text": fields.String(example="related", enum=["related", "unrelated"]),
    "score": fields.Float(example=-0.0, description="log-probability of the answer, 3 decimals"),
})
company = ns.model("ClusterCompany", {
    "stock": fields.String(example="LG에너지솔루션"),
    "count": fields.Integer(example=8, description="articles tying the stock to the theme"),
    "objids": fields.List(fields.String(example="id0250003263005")),
})
theme_cluster = ns.model("ThemeCluster", {
    "theme": fields.String(example="2차전지", description="the most used spelling of the merged names"),
    "count": fields.Integer(example=27, description="sum of the companies' counts"),
    "companies": fields.List(fields.Nested(company)),
})
upload_form = ns.parser()
upload_form.add_argument("file", location="files", type="FileStorage", required=True,
                         help="CSV with a header row and the columns objid, result (the JSON that /inference "
                              "or /theme_inference returned for the article); UTF-8 or CP949")

TEXT_ERRORS = "missing field, not a string, not JSON, or text under 5 characters"


def _service():
    return current_app.extensions["theme_generation"]


def _article() -> dict[str, str]:
    return text_payload(max_chars=current_app.config["MAX_TEXT_CHARS"])


@ns.route("/generation")
class Generation(Resource):
    @ns.expect(text_request)
    @ns.response(200, "every sentence with its pairs (or 없음)", [sentence_result])
    @ns.response(400, TEXT_ERRORS, error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """Split the article into sentences (the title is sentence 0) and generate pairs for each."""
        article = _article()
        logger.debug("generation title: %s", one_line(article["title"]))  # the guide's wording: no space before ':'
        logger.debug("generation body: %s", one_line(article["body"]))
        return _service().generation(**article)


@ns.route("/inference")
class Inference(Resource):
    @ns.expect(text_request)
    @ns.response(200, "pairs of the sentences related to the title, in sentence order", [inference_pair])
    @ns.response(400, TEXT_ERRORS, error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """Generation, then relevance of each pair's sentence to the title; 없음 and unrelated dropped."""
        article = _article()
        log_inputs("inference", title=article["title"], body=article["body"])
        return _service().inference(**article)


@ns.route("/relevance")
class Relevance(Resource):
    @ns.expect(text_request)
    @ns.response(200, "whether body (input2) is about the subject of title (input1)", relevance_answer)
    @ns.response(400, TEXT_ERRORS, error_model)
    @ns.response(413, "text longer than MAX_TEXT_CHARS", error_model)
    def post(self):
        """Relevance of body to title; inputs longer than the model's maximum are truncated."""
        article = _article()
        log_inputs("relevance", input1=article["title"], input2=article["body"])
        return _service().relevance(**article)


@ns.route("/clustering")
class Clustering(Resource):
    @ns.expect(upload_form)
    @ns.response(200, "themes largest first; X-Rows-Total / X-Rows-Skipped / X-Skipped-Lines say which "
                      "rows could not be read", [theme_cluster])
    @ns.response(400, "no file, not CSV text, a column missing, or no readable row", upload_error)
    @ns.response(413, "file larger than MAX_UPLOAD_BYTES")
    def post(self):
        """Group analysed articles by theme, merging near-duplicate theme names."""
        upload = uploaded_file("CSV of articles", "curl -F file=@articles.csv http://HOST:PORT/clustering")
        groups, read = _service().clustering(upload.read())
        headers = {"X-Rows-Total": str(read.rows), "X-Rows-Skipped": str(len(read.skipped))}
        if read.skipped:
            headers["X-Skipped-Lines"] = ",".join(str(s.line) for s in read.skipped[:100])
        return groups, 200, headers


@ns.route("/health")
class Health(Resource):
    def get(self):
        """A tiny forward pass on each model's device, a sentence split, the theme-list size."""
        return _service().health()
