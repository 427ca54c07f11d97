data a = text_file('corpus.txt')
