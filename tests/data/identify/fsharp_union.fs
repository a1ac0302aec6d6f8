type Shape =
    | Circle of radius: float
    | Rect of width: float * height: float

let area shape =
    match shape with
    | Circle r -> Math.PI * r * r
    | Rect (w, h) -> w * h

let shapes = [ Circle 1.0; Rect (2.0, 3.0) ]
shapes |> List.iter (area >> printfn "%f")
