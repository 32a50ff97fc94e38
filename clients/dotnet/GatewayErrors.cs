// The gateway's refusals and failures as exception types, so a caller can catch the case it
// handles (a bad key, a bad field, the providers being down) and let the rest propagate.

using System;

namespace GenAiGateway.Client
{
    // Any error answer from the gateway. Kind is the gateway's error type or code
    // ("validation_error", "invalid_api_key", "all_providers_failed", ...); Field names the
    // request field at fault when there is one.
    public class GatewayException : Exception
    {
        public int Status { get; private set; }
        public string Kind { get; private set; }
        public string Field { get; private set; }
        public string RequestId { get; private set; }

        public GatewayException(int status, string kind, string field, string message, string requestId)
            : base(message)
        {
            Status = status;
            Kind = kind;
            Field = field;
            RequestId = requestId;
        }

        // The exception type that fits an HTTP status and the decoded error body.
        public static GatewayException From(int status, ErrorBody body)
        {
            string kind = body == null ? "http_error" : (body.Code ?? body.Type ?? "http_error");
            string field = body == null ? null : (body.Field ?? body.Param);
            string message = body == null || body.Message == null ? "HTTP " + status : body.Message;
            string requestId = body == null ? null : body.RequestId;
            if (status == 401 || status == 403)
                return new GatewayAuthException(status, kind, field, message, requestId);
            if (status >= 400 && status < 500)
                return new GatewayRequestException(status, kind, field, message, requestId);
            return new GatewayUnavailableException(status, kind, field, message, requestId);
        }
    }

    // 401: the bearer key is missing or wrong. Retrying with the same key cannot help.
    public sealed class GatewayAuthException : GatewayException
    {
        public GatewayAuthException(int status, string kind, string field, string message, string requestId)
            : base(status, kind, field, message, requestId) { }
    }

    // 400, 413, 415, 422: the request itself is wrong; Field says which part.
    public sealed class GatewayRequestException : GatewayException
    {
        public GatewayRequestException(int status, string kind, string field, string message, string requestId)
            : base(status, kind, field, message, requestId) { }
    }

    // 5xx: every provider failed, or the gateway cannot serve the request right now.
    public sealed class GatewayUnavailableException : GatewayException
    {
        public GatewayUnavailableException(int status, string kind, string field, string message, string requestId)
            : base(status, kind, field, message, requestId) { }
    }

    // A stream that broke after text had been sent: the status line already said 200, so the
    // error arrives in-band as an `event: error` frame.
    public sealed class GatewayStreamException : GatewayException
    {
        public GatewayStreamException(ErrorBody body)
            : base(200, body == null ? "stream_error" : (body.Code ?? body.Type ?? "stream_error"),
                   body == null ? null : (body.Field ?? body.Param),
                   body == null || body.Message == null ? "the stream ended with an error" : body.Message,
                   body == null ? null : body.RequestId) { }
    }
}
