use strict;
use warnings;

open(my $fh, '<', 'data.csv') or die "cannot open data.csv: $!";
my $header = <$fh>;
my $total = 0;
while (my $row = <$fh>) {
    my @fields = split /,/, $row;
    $total += $fields[2];
}
close($fh);
print "total: $total\n";
