module traffic (input clk, input reset, output reg [1:0] light);
  localparam RED = 2'd0, GREEN = 2'd1, YELLOW = 2'd2;
  reg [1:0] state;
  always @(posedge clk) begin
    if (reset) state <= RED;
    else case (state)
      RED: state <= GREEN;
      GREEN: state <= YELLOW;
      default: state <= RED;
    endcase
    light <= state;
  end
endmodule
