Inductive natlist : Type :=
  | nil
  | cons (n : nat) (l : natlist).

Fixpoint length (l : natlist) : nat :=
  match l with
  | nil => O
  | cons _ t => S (length t)
  end.

Definition singleton (n : nat) : natlist := cons n nil.
