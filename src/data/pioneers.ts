/** The public sample table's rows (the Flask original's /table/ page showed a data table too). */
export interface Pioneer {
  name: string
  born: number
  field: string
  knownFor: string
}

export const PIONEERS: readonly Pioneer[] = [
  { name: 'Ada Lovelace', born: 1815, field: 'Mathematics', knownFor: 'First published algorithm for a machine' },
  { name: 'Charles Babbage', born: 1791, field: 'Engineering', knownFor: 'The Analytical Engine' },
  { name: 'Alan Turing', born: 1912, field: 'Computer science', knownFor: 'Computability and the Turing machine' },
  { name: 'Grace Hopper', born: 1906, field: 'Computer science', knownFor: 'The first compiler; COBOL' },
  { name: 'Edsger W. Dijkstra', born: 1930, field: 'Computer science', knownFor: 'Shortest paths; structured programming' },
  { name: 'Margaret Hamilton', born: 1936, field: 'Software engineering', knownFor: 'Apollo flight software' },
  { name: 'Thomas Edison', born: 1847, field: 'Invention', knownFor: 'Phonograph; practical electric light' },
  { name: 'Nikola Tesla', born: 1856, field: 'Electrical engineering', knownFor: 'Alternating-current systems' },
  { name: 'Alexander Graham Bell', born: 1847, field: 'Invention', knownFor: 'The telephone' },
  { name: 'Tim Berners-Lee', born: 1955, field: 'Computer science', knownFor: 'The World Wide Web' },
  { name: 'Barbara Liskov', born: 1939, field: 'Computer science', knownFor: 'Data abstraction; the substitution principle' },
  { name: 'Donald Knuth', born: 1938, field: 'Computer science', knownFor: 'The Art of Computer Programming; TeX' }
]
