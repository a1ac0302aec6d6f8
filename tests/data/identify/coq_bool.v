Definition negb (b : bool) : bool :=
  match b with
  | true => false
  | false => true
  end.

Lemma negb_involutive : forall b : bool, negb (negb b) = b.
Proof. intros []; reflexivity. Qed.
