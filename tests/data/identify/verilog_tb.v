`timescale 1ns/1ps
module tb;
  reg clk = 0;
  wire [7:0] q;
  counter uut (.clk(clk), .rst(1'b0), .count(q));
  always #5 clk = ~clk;
  initial begin
    $dumpfile("tb.vcd");
    $dumpvars(0, tb);
    #100 $finish;
  end
endmodule
