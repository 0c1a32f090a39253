"""The OpenAPI document of the proxy's API (served at /openapi.json)."""

from __future__ import annotations

from typing import Any

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["message", "type"],
            "properties": {
                "message": {"type": "string"},
                "type": {"type": "string"},
                "code": {"type": ["string", "null"]},
            },
        }
    },
}
_CONTENT_PART = {
    "type": "object",
    "required": ["type", "text"],
    "properties": {"type": {"type": "string", "enum": ["text"]}, "text": {"type": "string"}},
}
_MESSAGE = {
    "type": "object",
    "required": ["role", "content"],
    "properties": {
        "role": {"type": "string", "enum": ["system", "developer", "user", "assistant"]},
        "content": {
            "oneOf": [{"type": "string"}, {"type": "array", "items": _CONTENT_PART}],
        },
        "name": {"type": "string"},
    },
}
_USAGE = {
    "type": ["object", "null"],
    "properties": {
        "prompt_tokens": {"type": "integer"},
        "completion_tokens": {"type": "integer"},
        "total_tokens": {"type": "integer"},
    },
}
_COMPLETION = {
    "type": "object",
    "required": ["id", "object", "created", "model", "choices"],
    "properties": {
        "id": {"type": "string"},
        "object": {"type": "string", "enum": ["chat.completion"]},
        "created": {"type": "integer"},
        "model": {"type": "string"},
        "runtime_session_id": {"type": "string"},
        "request_id": {"type": "string"},
        "usage": _USAGE,
        "choices": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["index", "message"],
                "properties": {
                    "index": {"type": "integer"},
                    "finish_reason": {"type": ["string", "null"]},
                    "message": {
                        "type": "object",
                        "required": ["role"],
                        "properties": {
                            "role": {"type": "string"},
                            "content": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
    },
}


_READINESS = {
    "type": "object",
    "required": ["status", "models", "deployments"],
    "properties": {
        "status": {"type": "string"},
        "pid": {"type": "integer"},
        "models": {"type": "integer"},
        "deployments": {"type": "integer"},
        "routing_strategy": {"type": "string"},
        "session_store": {"type": "string", "enum": ["memory", "redis"]},
        "redis": {"type": ["string", "null"]},
    },
}


def _errors(*statuses: int) -> dict[str, Any]:
    errors: dict[str, Any] = {
        str(status): {
            "description": "an OpenAI-shaped error",
            "content": {"application/json": {"schema": _ERROR}},
        }
        for status in statuses
    }
    if "429" in errors:
        errors["429"] = {
            **errors["429"],
            "description": "a deployment limit (rpm, tpm, max_parallel_requests) or AgentCore's "
            "throttling: retry after Retry-After seconds",
            "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
        }
    return errors


def openapi_document() -> dict[str, Any]:
    session_header = {
        "name": "X-AgentCore-Session-Id",
        "in": "header",
        "required": False,
        "description": "The AgentCore runtime session to use (33-256 visible ASCII characters); "
        "the session used comes back in the same response header.",
        "schema": {"type": "string", "minLength": 33, "maxLength": 256, "pattern": "^[!-~]+$"},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AgentCore OpenAI-compatible proxy",
            "version": "1.0.0",
            "description": "OpenAI chat completions over Amazon Bedrock AgentCore runtimes.",
        },
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/v1/chat/completions": {
                "post": {
                    "operationId": "createChatCompletion",
                    "parameters": [session_header],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["model", "messages"],
                                    "properties": {
                                        "model": {"type": "string"},
                                        "messages": {
                                            "type": "array",
                                            "minItems": 1,
                                            "items": _MESSAGE,
                                        },
                                        "stream": {"type": "boolean"},
                                        "stream_options": {
                                            "type": "object",
                                            "properties": {"include_usage": {"type": "boolean"}},
                                        },
                                        "user": {"type": "string"},
                                        "stop": {
                                            "oneOf": [
                                                {"type": "string"},
                                                {"type": "array", "items": {"type": "string"}},
                                            ]
                                        },
                                        "temperature": {"type": "number"},
                                        "max_tokens": {"type": "integer"},
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "a chat.completion, or with stream=true an SSE stream "
                            "of chat.completion.chunk frames ending with data: [DONE]",
                            "content": {
                                "application/json": {"schema": _COMPLETION},
                                # Each server-sent event: data is a chat.completion.chunk in
                                # JSON, an error object, or [DONE].
                                "text/event-stream": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["data"],
                                        "properties": {"data": {"type": "string"}},
                                    }
                                },
                            },
                        },
                        **_errors(400, 401, 404, 413, 429, 502, 504),
                    },
                }
            },
            "/v1/models": {
                "get": {
                    "operationId": "listModels",
                    "responses": {
                        "200": {
                            "description": "the configured models",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["object", "data"],
                                        "properties": {
                                            "object": {"type": "string"},
                                            "data": {"type": "array"},
                                        },
                                    }
                                }
                            },
                        },
                        **_errors(401),
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "security": [],
                    "responses": {"200": {"description": "the proxy is up"}},
                }
            },
            "/health/liveliness": {
                "get": {
                    "operationId": "liveliness",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "the process answers (LiteLLM's name and answer)",
                            "content": {"application/json": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/health/readiness": {
                "get": {
                    "operationId": "readiness",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "the proxy can serve: its models, routing and "
                            "whether the shared Redis answers",
                            "content": {"application/json": {"schema": _READINESS}},
                        }
                    },
                }
            },
        },
    }
