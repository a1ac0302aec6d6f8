open System
open System.Net.Http

let fetchLength (url: string) = async {
    use client = new HttpClient()
    let! body = client.GetStringAsync(url) |> Async.AwaitTask
    return body.Length
}

let results =
    [ "https://example.org"; "https://example.com" ]
    |> List.map fetchLength
    |> Async.Parallel
    |> Async.RunSynchronously
