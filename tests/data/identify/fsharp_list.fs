module ListTools

let rec sum xs =
    match xs with
    | [] -> 0
    | x :: rest -> x + sum rest

let squares n = [ for i in 1 .. n -> i * i ]

[<EntryPoint>]
let main argv =
    printfn "%d" (sum (squares 10))
    0
