//! The OpenAPI 3.1 document served at `/openapi.json`.

use serde_json::{json, Value};

/// Every path the server routes, with its methods (kept in step with [`crate::api::router`];
/// a test checks both).
pub const PATHS: &[(&str, &str)] = &[
    ("/health", "get"),
    ("/metrics", "get"),
    ("/openapi.json", "get"),
    ("/v1/model", "get"),
    ("/v1/model/vk", "get"),
    ("/v1/model/keys", "get"),
    ("/v1/predict", "post"),
    ("/v1/jobs/{id}", "get"),
    ("/v1/jobs/{id}/proof", "get"),
    ("/v1/verify", "post"),
];

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    })
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}
    })
}

/// The document.
pub fn document() -> Value {
    let job_id = json!({
        "name": "id", "in": "path", "required": true,
        "schema": {"type": "string", "pattern": "^[0-9a-f]{32}$"},
        "description": "Job id returned by POST /v1/predict."
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vouch proving service",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Predictions answered at once by the model's reference interpreter, each proven in the background with a zero-knowledge proof that the client verifies against the pinned model digest. Errors are JSON: {\"error\": {\"code\", \"message\", \"field\"?}}."
        },
        "paths": {
            "/health": {"get": {
                "summary": "Liveness, queue depth and workers",
                "responses": {
                    "200": json_response("Serving", "Health"),
                    "503": json_response("Shutting down", "Health")
                }
            }},
            "/metrics": {"get": {
                "summary": "Prometheus metrics: queue depth, jobs running, proofs done/failed, prove-time histogram",
                "responses": {"200": {"description": "Prometheus text format", "content": {"text/plain": {"schema": {"type": "string"}}}}}
            }},
            "/openapi.json": {"get": {
                "summary": "This document",
                "responses": {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}}
            }},
            "/v1/model": {"get": {
                "summary": "The served model: digest, backend, preset, policy, commitments, input and output shapes",
                "responses": {"200": json_response("Model information", "ModelInfo")}
            }},
            "/v1/model/vk": {"get": {
                "summary": "The verifying key file (halo2.vk, or gkr.program for gkr keys)",
                "responses": {"200": {"description": "Key bytes", "content": {"application/octet-stream": {}}}}
            }},
            "/v1/model/keys": {"get": {
                "summary": "keys.json: the keys summary a verifier reads with the verifying key",
                "responses": {"200": {"description": "keys.json", "content": {"application/json": {}}}}
            }},
            "/v1/predict": {"post": {
                "summary": "Run the model on an input: the output at once, a job for the proof",
                "parameters": [
                    {"name": "wait", "in": "query", "required": false, "schema": {"type": "boolean"},
                     "description": "Wait for the proof (at most the server's wait timeout; then 202 with the job as it is)."}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PredictRequest"}}}},
                "responses": {
                    "200": json_response("The job, finished (with wait=true)", "Job"),
                    "202": json_response("The job, accepted (queued or proving); poll Location", "Job"),
                    "400": error_response("Malformed body or input (the message names the field)"),
                    "413": error_response("Body over the size limit"),
                    "429": error_response("Queue full; retry after Retry-After seconds"),
                    "503": error_response("Shutting down, or timed out")
                }
            }},
            "/v1/jobs/{id}": {"get": {
                "summary": "A job: status, progress, output, and the proof when done",
                "parameters": [job_id],
                "responses": {
                    "200": json_response("The job", "Job"),
                    "400": error_response("Not a job id"),
                    "404": error_response("No such job")
                }
            }},
            "/v1/jobs/{id}/proof": {"get": {
                "summary": "The job's proof file",
                "parameters": [job_id],
                "responses": {
                    "200": {"description": "Proof file (VOUCHPRF)", "content": {"application/octet-stream": {}}},
                    "404": error_response("No such job"),
                    "409": error_response("The job has no proof (yet, or it failed)")
                }
            }},
            "/v1/verify": {"post": {
                "summary": "Check a proof against the served keys",
                "requestBody": {"required": true, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/VerifyRequest"}},
                    "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
                }},
                "responses": {
                    "200": json_response("The verdict (valid or not, with the reason)", "Verdict"),
                    "400": error_response("Not a proof file"),
                    "413": error_response("Body over the size limit")
                }
            }}
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "enum": ["bad_request", "invalid_input", "not_found", "method_not_allowed", "too_large", "queue_full", "timeout", "shutting_down", "no_proof", "internal"]},
                    "message": {"type": "string"},
                    "field": {"type": "string"},
                    "queue_depth": {"type": "integer"},
                    "queue_limit": {"type": "integer"}
                }
            }}},
            "Health": {"type": "object", "properties": {
                "status": {"type": "string", "enum": ["ok", "shutting_down"]},
                "digest": {"type": "string"},
                "queue_depth": {"type": "integer"}, "queue_limit": {"type": "integer"},
                "running": {"type": "integer"}, "workers": {"type": "integer"}
            }},
            "Tensor": {"type": "object", "properties": {
                "name": {"type": "string"},
                "shape": {"type": "array", "items": {"type": "integer"}},
                "dtype": {"type": "string"},
                "scale": {"type": ["number", "null"]},
                "range": {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}
            }},
            "Commitment": {"type": "object", "properties": {"role": {"type": "string"}, "hex": {"type": "string"}}},
            "ModelInfo": {"type": "object", "properties": {
                "digest": {"type": "string", "description": "Model digest (SHA-256 of the canonical program)"},
                "backend": {"type": "string"},
                "preset": {"type": ["string", "null"]},
                "policy": {"type": "object", "properties": {"input": {"type": "string"}, "weights": {"type": "string"}, "output": {"type": "string"}}},
                "commitments": {"type": "array", "items": {"$ref": "#/components/schemas/Commitment"}},
                "insecure_setup": {"type": "boolean"},
                "k": {"type": "integer"},
                "inputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                "outputs": {"type": "array", "items": {"$ref": "#/components/schemas/Tensor"}},
                "vk_sha256": {"type": "string"}, "srs_sha256": {"type": "string"},
                "source": {"type": "string"}, "vouch_version": {"type": "string"}
            }},
            "PredictRequest": {"type": "object", "description": "One of input (single-input models) or inputs (keyed by input name). Arrays are nested to the input's shape, or flat.", "properties": {
                "input": {"type": "array"},
                "inputs": {"type": "object", "additionalProperties": {"type": "array"}}
            }},
            "Output": {"type": "object", "properties": {
                "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
                "values": {"type": "array", "items": {"type": "number"}},
                "quantized": {"type": "array", "items": {"type": "integer"}},
                "scale": {"type": ["number", "null"]}
            }},
            "Job": {"type": "object", "required": ["id", "status", "output"], "properties": {
                "id": {"type": "string"},
                "status": {"type": "string", "enum": ["queued", "proving", "done", "failed"]},
                "progress": {"type": ["object", "null"], "properties": {"phase": {"type": "string"}, "description": {"type": "string"}, "step": {"type": "integer"}, "steps": {"type": "integer"}}},
                "queue_position": {"type": ["integer", "null"]},
                "output": {"type": "array", "items": {"$ref": "#/components/schemas/Output"}},
                "proof": {"type": ["string", "null"], "contentEncoding": "base64"},
                "error": {"type": ["string", "null"]},
                "attempts": {"type": "integer"},
                "created_unix_ms": {"type": "integer"},
                "finished_unix_ms": {"type": ["integer", "null"]},
                "prove_ms": {"type": ["number", "null"]}
            }},
            "VerifyRequest": {"type": "object", "required": ["proof"], "properties": {
                "proof": {"type": "string", "contentEncoding": "base64"},
                "model_digest": {"type": "string"},
                "commitment": {"type": "string", "description": "HEX or ROLE:HEX"}
            }},
            "Verdict": {"type": "object", "properties": {
                "valid": {"type": "boolean"},
                "check": {"type": ["string", "null"], "enum": ["keys", "model_digest", "commitment", "proof", null]},
                "reason": {"type": ["string", "null"]},
                "insecure_setup": {"type": "boolean"},
                "digest": {"type": "string"},
                "public": {"type": "array"},
                "commitments": {"type": "array", "items": {"$ref": "#/components/schemas/Commitment"}}
            }}
        }}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_every_path() {
        let doc = document();
        let paths = doc["paths"].as_object().map(|m| m.len()).unwrap_or(0);
        assert_eq!(paths, PATHS.len());
        for (path, method) in PATHS {
            assert!(
                doc["paths"][path][method].is_object(),
                "{method} {path} is not documented"
            );
        }
    }
}
