From Coq Require Import Lia.

Fixpoint even (n : nat) : bool :=
  match n with
  | O => true
  | S O => false
  | S (S n') => even n'
  end.

Example even_4 : even 4 = true.
Proof. reflexivity. Qed.
