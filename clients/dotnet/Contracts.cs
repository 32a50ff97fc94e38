// Wire shapes of the gateway's REST API, mapped with DataContractJsonSerializer.
// Only the fields this client reads or sends are declared; the serializer ignores the rest,
// so the gateway can add fields without breaking the client. Money stays a decimal string,
// exactly as the gateway sends it, and is parsed only where arithmetic needs it.

using System.Collections.Generic;
using System.Runtime.Serialization;

namespace GenAiGateway.Client
{
    [DataContract]
    public sealed class GenerateRequest
    {
        [DataMember(Name = "prompt", Order = 0)] public string Prompt;
        [DataMember(Name = "task", EmitDefaultValue = false, Order = 1)] public string Task;
        [DataMember(Name = "priority", EmitDefaultValue = false, Order = 2)] public string Priority;
        [DataMember(Name = "provider_hint", EmitDefaultValue = false, Order = 3)] public string ProviderHint;
        [DataMember(Name = "model", EmitDefaultValue = false, Order = 4)] public string Model;
        [DataMember(Name = "max_tokens", EmitDefaultValue = false, Order = 5)] public int? MaxTokens;
        [DataMember(Name = "temperature", EmitDefaultValue = false, Order = 6)] public double? Temperature;
        [DataMember(Name = "user", EmitDefaultValue = false, Order = 7)] public string User;
        [DataMember(Name = "stream", EmitDefaultValue = false, Order = 8)] public bool Stream;
    }

    [DataContract]
    public sealed class TokenUsage
    {
        [DataMember(Name = "input_tokens")] public int InputTokens;
        [DataMember(Name = "output_tokens")] public int OutputTokens;
        [DataMember(Name = "total_tokens")] public int TotalTokens;
        // Where the counts came from: "provider", or an estimate ("tiktoken", "calibrated", "heuristic").
        [DataMember(Name = "source")] public string Source;
    }

    [DataContract]
    public sealed class Counterfactual
    {
        [DataMember(Name = "provider")] public string Provider;
        [DataMember(Name = "model")] public string Model;
        [DataMember(Name = "cost_usd")] public string CostUsd;
    }

    [DataContract]
    public sealed class Attempt
    {
        [DataMember(Name = "provider")] public string Provider;
        [DataMember(Name = "model")] public string Model;
        [DataMember(Name = "status")] public string Status;
        [DataMember(Name = "error_type")] public string ErrorType;
    }

    // The body of POST /generate, the last frame of its stream, and the x_gateway object of
    // /v1/chat/completions (which carries everything here except the text).
    [DataContract]
    public class GenerateResult
    {
        [DataMember(Name = "text")] public string Text;
        [DataMember(Name = "provider")] public string Provider;
        [DataMember(Name = "model")] public string Model;
        [DataMember(Name = "usage")] public TokenUsage Usage;
        [DataMember(Name = "cost_usd")] public string CostUsd;
        [DataMember(Name = "unpriced")] public bool Unpriced;
        [DataMember(Name = "counterfactual")] public Counterfactual Counterfactual;
        [DataMember(Name = "latency_ms")] public double LatencyMs;
        [DataMember(Name = "ttft_ms")] public double? TtftMs;
        [DataMember(Name = "attempts")] public List<Attempt> Attempts;
        [DataMember(Name = "fallback_used")] public bool FallbackUsed;
        [DataMember(Name = "route_reason")] public string RouteReason;
        [DataMember(Name = "request_id")] public string RequestId;
        [DataMember(Name = "finish_reason")] public string FinishReason;
    }

    // One `data:` frame of a /generate stream: a text delta, or the final result.
    [DataContract]
    public sealed class GenerateFrame : GenerateResult
    {
        [DataMember(Name = "delta")] public string Delta;
    }

    [DataContract]
    public sealed class ChatMessage
    {
        [DataMember(Name = "role", Order = 0)] public string Role;
        [DataMember(Name = "content", Order = 1)] public string Content;

        public ChatMessage(string role, string content)
        {
            Role = role;
            Content = content;
        }
    }

    [DataContract]
    public sealed class ChatRequest
    {
        // "auto", a provider name, or a model id from GET /v1/models.
        [DataMember(Name = "model", Order = 0)] public string Model = "auto";
        [DataMember(Name = "messages", Order = 1)] public List<ChatMessage> Messages = new List<ChatMessage>();
        [DataMember(Name = "max_tokens", EmitDefaultValue = false, Order = 2)] public int? MaxTokens;
        [DataMember(Name = "temperature", EmitDefaultValue = false, Order = 3)] public double? Temperature;
        // Gateway extension: low_cost, low_latency or balanced.
        [DataMember(Name = "priority", EmitDefaultValue = false, Order = 4)] public string Priority;
    }

    [DataContract]
    public sealed class ChatChoice
    {
        [DataMember(Name = "message")] public ChatMessage Message;
        [DataMember(Name = "finish_reason")] public string FinishReason;
    }

    [DataContract]
    public sealed class ChatUsage
    {
        [DataMember(Name = "prompt_tokens")] public int PromptTokens;
        [DataMember(Name = "completion_tokens")] public int CompletionTokens;
        [DataMember(Name = "total_tokens")] public int TotalTokens;
    }

    [DataContract]
    public sealed class ChatCompletion
    {
        [DataMember(Name = "id")] public string Id;
        [DataMember(Name = "model")] public string Model;
        [DataMember(Name = "choices")] public List<ChatChoice> Choices;
        [DataMember(Name = "usage")] public ChatUsage Usage;
        [DataMember(Name = "x_gateway")] public GenerateResult Gateway;
    }

    // Both error shapes: /generate sends {type, message, field}; the /v1 routes send OpenAI's
    // {message, type, param, code}, where `code` is the specific kind and `param` the field.
    [DataContract]
    public sealed class ErrorBody
    {
        [DataMember(Name = "type")] public string Type;
        [DataMember(Name = "message")] public string Message;
        [DataMember(Name = "field")] public string Field;
        [DataMember(Name = "param")] public string Param;
        [DataMember(Name = "code")] public string Code;
        [DataMember(Name = "request_id")] public string RequestId;
    }

    [DataContract]
    public sealed class ErrorEnvelope
    {
        [DataMember(Name = "error")] public ErrorBody Error;
    }
}
