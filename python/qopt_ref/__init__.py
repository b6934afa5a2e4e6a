"""Independent numpy reference for qopt: checkpoint readers and a Llama forward pass.

Nothing here shares code with the C++ implementation; it is written from the
llama2.c and Hugging Face formats directly so that tests compare two
independent implementations.
"""
