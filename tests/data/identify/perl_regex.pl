my @lines = ('2024-01-05 ERROR disk full', '2024-01-06 INFO ok');
foreach my $l (@lines) {
    if ($l =~ /^(\d{4})-(\d\d)-(\d\d)\s+(\w+)\s+(.*)$/) {
        print "$4 on $3/$2/$1: $5\n" if $4 eq 'ERROR';
    }
}
