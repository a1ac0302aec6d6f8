namespace Shop

type Item = { Name: string; Price: decimal }

type Cart() =
    let mutable items : Item list = []
    member this.Add(item: Item) = items <- item :: items
    member this.Total = items |> List.sumBy (fun i -> i.Price)
