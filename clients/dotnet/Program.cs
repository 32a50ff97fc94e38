// Command-line front end of the .NET client: parses options, calls the gateway and prints
// what answered, the tokens and the cost. The entry point is synchronous on purpose (Mono's
// mcs has no async Main).
//
//   GatewayClient [--url URL] [--key KEY] [generate|stream|chat|all] [options] "prompt"
//
// URL defaults to $GATEWAY_URL or http://127.0.0.1:8000, KEY to $GATEWAY_API_KEY.
// Exit codes: 0 answered, 1 the gateway refused or failed, 2 bad usage, 3 gateway unreachable.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Net.Http;

namespace GenAiGateway.Client
{
    public static class Program
    {
        const string Usage =
            "usage: GatewayClient [--url URL] [--key KEY] [generate|stream|chat|all] [--task T] [--priority P]\n" +
            "                     [--provider NAME] [--model M] [--max-tokens N] [--temperature X] PROMPT";

        public static int Main(string[] args)
        {
            Options options;
            try { options = Options.Parse(args); }
            catch (ArgumentException e)
            {
                Console.Error.WriteLine("error: " + e.Message);
                Console.Error.WriteLine(Usage);
                return 2;
            }
            using (var client = new GatewayClient(options.Url, options.Key, TimeSpan.FromSeconds(120)))
            {
                try
                {
                    foreach (string command in options.Commands)
                        Run(client, command, options);
                    return 0;
                }
                catch (GatewayException e)
                {
                    Console.Error.WriteLine(string.Format("error: {0} (HTTP {1}) kind={2} field={3}: {4}",
                        e.GetType().Name, e.Status, e.Kind, e.Field ?? "-", e.Message));
                    return 1;
                }
                catch (HttpRequestException e)
                {
                    Console.Error.WriteLine("error: cannot reach the gateway at " + options.Url + ": " + Innermost(e).Message);
                    return 3;
                }
            }
        }

        static void Run(GatewayClient client, string command, Options o)
        {
            if (command == "chat")
            {
                Console.WriteLine("== POST /v1/chat/completions");
                var request = new ChatRequest { Model = o.Model ?? o.Provider ?? "auto", MaxTokens = o.MaxTokens,
                                                Temperature = o.Temperature, Priority = o.Priority };
                request.Messages.Add(new ChatMessage("user", o.Prompt));
                ChatCompletion reply = client.ChatCompletions(request);
                Console.WriteLine("answer: " + reply.Choices[0].Message.Content);
                PrintSummary(reply.Gateway, reply.Usage.PromptTokens, reply.Usage.CompletionTokens, reply.Usage.TotalTokens);
                return;
            }
            var generate = new GenerateRequest { Prompt = o.Prompt, Task = o.Task, Priority = o.Priority,
                                                 ProviderHint = o.Provider, Model = o.Model, MaxTokens = o.MaxTokens,
                                                 Temperature = o.Temperature };
            GenerateResult result;
            if (command == "stream")
            {
                Console.WriteLine("== POST /generate (stream)");
                Console.Write("answer: ");
                int pieces = 0;
                result = client.GenerateStream(generate, delta => { pieces++; Console.Write(delta); Console.Out.Flush(); });
                Console.WriteLine();
                Console.WriteLine("pieces: " + pieces);
            }
            else
            {
                Console.WriteLine("== POST /generate");
                result = client.Generate(generate);
                Console.WriteLine("answer: " + result.Text);
            }
            PrintSummary(result, result.Usage.InputTokens, result.Usage.OutputTokens, result.Usage.TotalTokens);
        }

        static void PrintSummary(GenerateResult r, int input, int output, int total)
        {
            Console.WriteLine("provider: " + r.Provider);
            Console.WriteLine("model: " + r.Model);
            Console.WriteLine(string.Format("tokens: {0} in, {1} out, {2} total ({3})", input, output, total,
                                            r.Usage == null ? "provider" : r.Usage.Source));
            Console.WriteLine("cost_usd: " + (r.Unpriced ? "unpriced" : r.CostUsd));
            if (r.Counterfactual != null && r.Counterfactual.Provider != null)
                Console.WriteLine(string.Format("counterfactual: {0} {1} {2}", r.Counterfactual.Provider,
                                                r.Counterfactual.Model, r.Counterfactual.CostUsd ?? "unpriced"));
            Console.WriteLine("latency_ms: " + r.LatencyMs.ToString("0.0", CultureInfo.InvariantCulture));
            if (r.FallbackUsed) Console.WriteLine("fallback: yes, after " + (r.Attempts.Count - 1) + " failed attempt(s)");
            Console.WriteLine("request_id: " + r.RequestId);
        }

        static Exception Innermost(Exception e)
        {
            while (e.InnerException != null) e = e.InnerException;
            return e;
        }
    }

    // The parsed command line. Unknown options and missing values are usage errors.
    sealed class Options
    {
        public string Url = Environment.GetEnvironmentVariable("GATEWAY_URL") ?? "http://127.0.0.1:8000";
        public string Key = Environment.GetEnvironmentVariable("GATEWAY_API_KEY");
        public List<string> Commands = new List<string>();
        public string Prompt, Task, Priority, Provider, Model;
        public int? MaxTokens;
        public double? Temperature;

        public static Options Parse(string[] args)
        {
            var o = new Options();
            for (int i = 0; i < args.Length; i++)
            {
                string a = args[i];
                if (!a.StartsWith("--", StringComparison.Ordinal))
                {
                    if (a == "generate" || a == "stream" || a == "chat") o.Commands.Add(a);
                    else if (a == "all") o.Commands.AddRange(new[] { "generate", "stream", "chat" });
                    else if (o.Prompt == null) o.Prompt = a;
                    else throw new ArgumentException("one prompt only; quote it");
                    continue;
                }
                if (i + 1 >= args.Length) throw new ArgumentException(a + " needs a value");
                string v = args[++i];
                switch (a)
                {
                    case "--url": o.Url = v; break;
                    case "--key": o.Key = v; break;
                    case "--task": o.Task = v; break;
                    case "--priority": o.Priority = v; break;
                    case "--provider": o.Provider = v; break;
                    case "--model": o.Model = v; break;
                    case "--max-tokens": o.MaxTokens = ParseInt(a, v); break;
                    case "--temperature": o.Temperature = ParseDouble(a, v); break;
                    default: throw new ArgumentException("unknown option " + a);
                }
            }
            if (o.Prompt == null) throw new ArgumentException("a prompt is required");
            if (o.Commands.Count == 0) o.Commands.AddRange(new[] { "generate", "stream", "chat" });
            return o;
        }

        static int ParseInt(string name, string value)
        {
            int n;
            if (!int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out n))
                throw new ArgumentException(name + " must be an integer");
            return n;
        }

        static double ParseDouble(string name, string value)
        {
            double x;
            if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out x))
                throw new ArgumentException(name + " must be a number");
            return x;
        }
    }
}
