// A synchronous client for the gateway's REST API: POST /generate (JSON and server-sent
// events) and POST /v1/chat/completions, with an optional bearer key. It blocks on
// HttpClient's tasks instead of exposing async methods because it must also build with Mono's
// mcs, which has no async Main, and a console program gains nothing from async here.

using System;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Runtime.Serialization.Json;
using System.Text;

namespace GenAiGateway.Client
{
    public sealed class GatewayClient : IDisposable
    {
        readonly HttpClient http;

        public GatewayClient(string baseUrl, string apiKey, TimeSpan timeout)
        {
            http = new HttpClient();
            http.BaseAddress = new Uri(baseUrl.TrimEnd('/') + "/");
            http.Timeout = timeout;
            if (!string.IsNullOrEmpty(apiKey))
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        public GenerateResult Generate(GenerateRequest request)
        {
            request.Stream = false;
            using (HttpResponseMessage response = Send("generate", Serialize(request), false))
                return Read<GenerateResult>(response);
        }

        // Streams the answer: onDelta gets each piece of text as it arrives; the return value is
        // the final frame, which holds the provider, usage and cost.
        public GenerateResult GenerateStream(GenerateRequest request, Action<string> onDelta)
        {
            request.Stream = true;
            using (HttpResponseMessage response = Send("generate", Serialize(request), true))
            {
                ThrowIfError(response);
                using (Stream body = response.Content.ReadAsStreamAsync().GetAwaiter().GetResult())
                    return ReadEvents(new StreamReader(body, Encoding.UTF8), onDelta);
            }
        }

        public ChatCompletion ChatCompletions(ChatRequest request)
        {
            using (HttpResponseMessage response = Send("v1/chat/completions", Serialize(request), false))
                return Read<ChatCompletion>(response);
        }

        public void Dispose()
        {
            http.Dispose();
        }

        HttpResponseMessage Send(string path, byte[] json, bool stream)
        {
            var message = new HttpRequestMessage(HttpMethod.Post, path);
            message.Content = new ByteArrayContent(json);
            message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            // Headers-only completion lets a stream be read while the gateway is still writing it.
            HttpCompletionOption until = stream ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead;
            return http.SendAsync(message, until).GetAwaiter().GetResult();
        }

        static GenerateResult ReadEvents(TextReader reader, Action<string> onDelta)
        {
            GenerateResult final = null;
            string eventName = null;
            string line;
            while ((line = reader.ReadLine()) != null)
            {
                if (line.Length == 0) { eventName = null; continue; }
                if (line.StartsWith("event:", StringComparison.Ordinal)) { eventName = line.Substring(6).Trim(); continue; }
                if (!line.StartsWith("data:", StringComparison.Ordinal)) continue;
                string data = line.Substring(5).TrimStart();
                if (data == "[DONE]") break;
                if (eventName == "error")
                    throw new GatewayStreamException(Parse<ErrorEnvelope>(data).Error);
                GenerateFrame frame = Parse<GenerateFrame>(data);
                if (frame.Delta != null) onDelta(frame.Delta);
                else final = frame;
            }
            if (final == null)
                throw new GatewayStreamException(null);
            return final;
        }

        static T Read<T>(HttpResponseMessage response)
        {
            ThrowIfError(response);
            return Parse<T>(response.Content.ReadAsStringAsync().GetAwaiter().GetResult());
        }

        static void ThrowIfError(HttpResponseMessage response)
        {
            if (response.IsSuccessStatusCode) return;
            string text = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            ErrorBody body = null;
            try { body = Parse<ErrorEnvelope>(text).Error; }
            catch (Exception) { body = null; }  // not the gateway's JSON (a proxy page, say): status only
            throw GatewayException.From((int)response.StatusCode, body);
        }

        static byte[] Serialize<T>(T value)
        {
            using (var buffer = new MemoryStream())
            {
                new DataContractJsonSerializer(typeof(T)).WriteObject(buffer, value);
                return buffer.ToArray();
            }
        }

        static T Parse<T>(string json)
        {
            using (var buffer = new MemoryStream(Encoding.UTF8.GetBytes(json)))
                return (T)new DataContractJsonSerializer(typeof(T)).ReadObject(buffer);
        }
    }
}
