import XCTest
@testable import MagpieModel
import MagpieTestSupport

final class ModelMetadataTests: XCTestCase {
    /// Models from the Coral / TFLite Support image-classification set that carry `TFLITE_METADATA`, with the offset
    /// of their appended zip entry. Expected values were read with Python (tflite-support's generated
    /// `metadata_schema_py_generated` over flatbuffers, and `zipfile`).
    static let classifiers: [(file: String, labelsHeaderOffset: Int)] = [
        ("mobilenet_v2_1.0_224_quant.tflite", 3_588_976),
        ("mobilenet_v1_0.25_128_quant.tflite", 503_776),
        ("tf2_mobilenet_v2_1.0_224_ptq.tflite", 4_048_352),
    ]

    func testRealClassifierMetadata() throws {
        for (file, headerOffset) in Self.classifiers {
            let model = try Model(contentsOfFile: try TestData.model(file))
            let metadata = try XCTUnwrap(try model.metadata(), file)
            XCTAssertEqual(metadata.name, "ImageClassifier", file)
            XCTAssertEqual(metadata.description, "Identify the most prominent object in the image from a known set of categories.", file)
            XCTAssertNil(metadata.version, file)
            XCTAssertNil(metadata.author, file)
            XCTAssertNil(metadata.license, file)
            XCTAssertEqual(metadata.minParserVersion, "1.0.0", file)
            XCTAssertEqual(metadata.associatedFiles, [], file)
            XCTAssertEqual(metadata.subgraphs.count, 1, file)
            let subgraph = metadata.subgraphs[0]
            XCTAssertNil(subgraph.name, file)
            XCTAssertEqual(subgraph.associatedFiles, [], file)
            XCTAssertEqual(subgraph.inputTensors.count, 1, file)
            XCTAssertEqual(subgraph.outputTensors.count, 1, file)

            let input = subgraph.inputTensors[0]
            XCTAssertEqual(input.name, "image", file)
            XCTAssertEqual(input.description, "Input image to be classified.", file)
            XCTAssertEqual(input.dimensionNames, [], file)
            XCTAssertEqual(input.content, ModelMetadata.Content(properties: .image(.init(colorSpace: .rgb))), file)
            XCTAssertEqual(input.imageProperties?.colorSpace, .rgb, file)
            XCTAssertEqual(input.processUnits, [.normalization(.init(mean: [127.5], std: [127.5]))], file)
            XCTAssertEqual(metadata.inputNormalization(), ModelMetadata.Normalization(mean: [127.5], std: [127.5]), file)
            XCTAssertEqual(input.stats, ModelMetadata.Stats(max: [255], min: [0]), file)
            XCTAssertEqual(input.associatedFiles, [], file)

            let output = subgraph.outputTensors[0]
            XCTAssertEqual(output.name, "probability", file)
            XCTAssertEqual(output.description, "Probabilities of the labels respectively.", file)
            XCTAssertEqual(output.content, ModelMetadata.Content(properties: .feature), file)
            XCTAssertEqual(output.processUnits, [], file)
            XCTAssertEqual(output.stats, ModelMetadata.Stats(max: [255], min: [0]), file)
            let labelFile = ModelMetadata.AssociatedFile(name: "imagenet_labels.txt",
                                                         description: "Labels for categories that the model can recognize.",
                                                         type: .tensorAxisLabels)
            XCTAssertEqual(output.associatedFiles, [labelFile], file)
            XCTAssertEqual(metadata.labelFile(forOutput: 0), labelFile, file)
            XCTAssertNil(metadata.labelFile(forOutput: 1), file)

            let archive = try XCTUnwrap(try model.associatedFilesArchive(), file)
            XCTAssertEqual(archive.entries.count, 1, file)
            let entry = archive.entries[0]
            XCTAssertEqual(entry.name, "imagenet_labels.txt", file)
            XCTAssertTrue(entry.isStored, file)
            XCTAssertEqual(entry.uncompressedSize, 21_686, file)
            XCTAssertEqual(entry.crc32, 0x487A_3114, file)
            XCTAssertEqual(entry.headerOffset, headerOffset, file)
            XCTAssertEqual(try model.associatedFile(named: "imagenet_labels.txt")?.count, 21_686, file)

            let labels = try XCTUnwrap(try model.labels(forOutput: 0), file)
            XCTAssertEqual(labels.count, 1001, file)
            let outputShape = model.mainSubgraph.tensors[model.mainSubgraph.outputs[0]].shape
            XCTAssertEqual(outputShape, [1, 1001], file)
            XCTAssertEqual(labels[0], "background", file)
            XCTAssertEqual(labels[1], "tench, Tinca tinca", file)
            XCTAssertEqual(labels[2], "goldfish, Carassius auratus", file)
            XCTAssertEqual(labels[281], "grey fox, gray fox, Urocyon cinereoargenteus", file)
            XCTAssertEqual(labels[409], "amphibian, amphibious vehicle", file)
            XCTAssertEqual(labels[653], "military uniform", file)
            XCTAssertEqual(labels[999], "ear, spike, capitulum", file)
            XCTAssertEqual(labels[1000], "toilet tissue, toilet paper, bathroom tissue", file)
            XCTAssertEqual(try model.labels(forOutput: 0, locale: "fr"), labels, "no French file: falls back to the first")
            XCTAssertNil(try model.labels(forOutput: 1), file)
        }
    }

    func testModelsWithoutMetadata() throws {
        for file in ["mobilenet_v2_1.0_224_float.tflite", "mobilenet_v1_0.25_128_float.tflite", "split_concat.tflite"] {
            let model = try Model(contentsOfFile: try TestData.model(file))
            XCTAssertNil(try model.metadata(), file)
            XCTAssertNil(try model.associatedFilesArchive(), file)
            XCTAssertNil(try model.associatedFile(named: "imagenet_labels.txt"), file)
            XCTAssertNil(try model.labels(forOutput: 0), file)
        }
    }

    /// The real metadata buffer, cut at every length and corrupted at random: every outcome is a value or a
    /// `ModelError`, never a trap.
    func testCorruptedRealMetadataNeverTraps() throws {
        let model = try Model(contentsOfFile: try TestData.model("mobilenet_v1_0.25_128_quant.tflite"))
        let raw = Array(try XCTUnwrap(model.metadata(named: ModelMetadata.metadataName)))
        XCTAssertEqual(raw.count, 696)
        XCTAssertEqual(try ModelMetadata(data: raw), try model.metadata())
        // A cut buffer either fails, or (when only trailing padding was cut) reads exactly as the whole one.
        let whole = try ModelMetadata(data: raw)
        var refused = 0
        for n in 0..<raw.count {
            do {
                let cut = try ModelMetadata(data: raw.prefix(n))
                XCTAssertEqual(cut, whole, "first \(n) bytes")
            } catch {
                XCTAssertTrue(error is ModelError, "\(error)")
                refused += 1
            }
        }
        XCTAssertGreaterThanOrEqual(refused, raw.count - 4)
        var rng = SplitMix64(state: 42)
        for _ in 0..<4000 {
            var bytes = raw
            for _ in 0..<(1 + rng.below(3)) {
                bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next())
            }
            do { _ = try ModelMetadata(data: bytes) } catch { XCTAssertTrue(error is ModelError, "\(error)") }
        }
    }

    func testWrongIdentifierIsRefused() throws {
        var bytes = Self.synthetic
        bytes[7] = UInt8(ascii: "2")
        XCTAssertThrowsError(try ModelMetadata(data: bytes)) {
            XCTAssertEqual($0 as? ModelError, .malformed("TFLITE_METADATA has file identifier 'M002', expected 'M001'"))
        }
        XCTAssertThrowsError(try ModelMetadata(data: [UInt8]())) { XCTAssertTrue($0 is ModelError) }
    }

    /// Every table and union member of schema 1.5.0, plus members from a "newer schema" (content type 9, process unit
    /// type 7) that must be skipped. Built with tflite-support's generated Python object API (`ModelMetadataT.Pack`).
    func testSyntheticMetadataCoversTheSchema() throws {
        let m = try ModelMetadata(data: Self.synthetic)
        XCTAssertEqual(m.name, "Synthetic")
        XCTAssertEqual(m.description, "A model for testing")
        XCTAssertEqual(m.version, "v7")
        XCTAssertEqual(m.author, "Magpie")
        XCTAssertEqual(m.license, "Apache-2.0")
        XCTAssertEqual(m.minParserVersion, "1.5.0")
        XCTAssertEqual(m.associatedFiles, [.init(name: "README.md", description: "About", type: .descriptions, locale: "en", version: "3")])
        XCTAssertEqual(m.subgraphs.count, 1)
        let g = m.subgraphs[0]
        XCTAssertEqual(g.name, "main")
        XCTAssertEqual(g.description, "the only subgraph")
        XCTAssertEqual(g.associatedFiles, [.init(name: "vocab.txt", type: .vocabulary)])
        XCTAssertEqual(g.inputProcessUnits, [
            .regexTokenizer(delimiterPattern: "[ ,]+", vocabularyFiles: [.init(name: "vocab.txt", type: .vocabulary)]),
            .bertTokenizer(vocabularyFiles: [.init(name: "bert_vocab.txt", type: .vocabulary)]),
        ])
        XCTAssertEqual(g.outputProcessUnits, [.sentencePieceTokenizer(modelFiles: [.init(name: "sp.model", type: .unknown)], vocabularyFiles: [])])
        XCTAssertEqual(g.inputTensorGroups, [])
        XCTAssertEqual(g.outputTensorGroups, [.init(name: "detection", tensorNames: ["boxes", "classes"])])
        XCTAssertEqual(g.customMetadata, [.init(name: "extra", data: [1, 2, 3, 250])])

        XCTAssertEqual(g.inputTensors.count, 2)
        let pixels = g.inputTensors[0]
        XCTAssertEqual(pixels.name, "pixels")
        XCTAssertEqual(pixels.description, "gray image")
        XCTAssertEqual(pixels.dimensionNames, ["batch", "height", "width", "channels"])
        XCTAssertEqual(pixels.imageProperties, .init(colorSpace: .grayscale, defaultSize: (width: 320, height: 240)))
        XCTAssertNil(pixels.content?.range)
        // The unknown process unit (type 7) comes first in the file and is skipped.
        XCTAssertEqual(pixels.processUnits, [
            .normalization(.init(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225])),
            .scoreCalibration(.init(transformation: .inverseLogistic, defaultScore: 0.25)),
        ])
        XCTAssertEqual(m.inputNormalization(0), .init(mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]))
        XCTAssertNil(m.inputNormalization(1))
        XCTAssertEqual(pixels.stats, .init(max: [1, 2], min: [-1]))
        XCTAssertEqual(g.inputTensors[1], .init(name: "audio", content: .init(properties: .audio(.init(sampleRate: 16000, channels: 2)))))

        XCTAssertEqual(g.outputTensors.count, 2)
        let boxes = g.outputTensors[0]
        XCTAssertEqual(boxes.name, "boxes")
        XCTAssertEqual(boxes.content, .init(properties: .boundingBox(.init(index: [1, 0, 3, 2], type: .boundaries, coordinateType: .pixel)),
                                            range: .init(min: 2, max: 2)))
        XCTAssertEqual(boxes.processUnits, [.scoreThresholding(globalScoreThreshold: 0.5)])
        let classes = g.outputTensors[1]
        XCTAssertEqual(classes.name, "classes")
        XCTAssertNotNil(classes.content, "the content table is there")
        XCTAssertNil(classes.content?.properties, "content type 9 is unknown and skipped")
        XCTAssertEqual(classes.associatedFiles.map(\.type), [.tensorAxisScoreCalibration, .tensorAxisLabels, .tensorAxisLabels, .tensorValueLabels])
        XCTAssertEqual(classes.associatedFiles.map(\.name), ["calib.csv", "labels_en.txt", "labels_fr.txt", "ids.txt"])
        XCTAssertEqual(m.labelFile(forOutput: 1)?.name, "labels_en.txt")
        XCTAssertEqual(m.labelFile(forOutput: 1, locale: "fr")?.name, "labels_fr.txt")
        XCTAssertEqual(m.labelFile(forOutput: 1, locale: "de")?.name, "labels_en.txt")
        XCTAssertNil(m.labelFile(forOutput: 0))
        XCTAssertEqual(ModelMetadata.FileType(rawValue: 2).description, "TENSOR_AXIS_LABELS")
        XCTAssertEqual(ModelMetadata.FileType(rawValue: 42).description, "AssociatedFileType(42)")
    }

    /// A hand-built buffer whose vectors all point at one shared sub-table, three levels deep: N^3 objects from
    /// O(N) bytes. The parse budget must stop it quickly instead of expanding a billion tables.
    func testSharedSubtablesCannotExplode() throws {
        let n = 1000
        var b: [UInt8] = []
        func patch(_ at: Int, _ v: UInt32) { for k in 0..<4 { b[at + k] = UInt8((v >> UInt32(8 * k)) & 0xFF) } }
        /// Writes a vtable with one offset field at `slot` and the table after it; returns the field's position.
        func table(slot: Int) -> Int {
            let vtable = b.count
            b.u16(UInt16(4 + 2 * (slot + 1))); b.u16(8)
            for s in 0...slot { b.u16(s == slot ? 4 : 0) }
            let t = b.count
            b.u32(UInt32(t - vtable))  // soffset: vtable = table - soffset
            b.u32(0)                    // the field, patched later
            return t + 4
        }
        /// Writes a vector of n offsets, all to `target` (patched later); returns the element positions.
        func vector() -> (start: Int, elements: [Int]) {
            let start = b.count
            b.u32(UInt32(n))
            let elements = (0..<n).map { _ in let p = b.count; b.u32(0); return p }
            return (start, elements)
        }
        b.u32(0); b += Array("M001".utf8)
        let rootField = table(slot: 3)           // ModelMetadata.subgraph_metadata
        patch(0, UInt32(rootField - 4))
        let v1 = vector()
        patch(rootField, UInt32(v1.start - rootField))
        let sgField = table(slot: 3)             // SubGraphMetadata.output_tensor_metadata
        for p in v1.elements { patch(p, UInt32(sgField - 4 - p)) }
        let v2 = vector()
        patch(sgField, UInt32(v2.start - sgField))
        let tField = table(slot: 6)              // TensorMetadata.associated_files
        for p in v2.elements { patch(p, UInt32(tField - 4 - p)) }
        let v3 = vector()
        patch(tField, UInt32(v3.start - tField))
        let fileVtable = b.count
        b.u16(4); b.u16(4)
        let fileTable = b.count
        b.u32(UInt32(fileTable - fileVtable))
        for p in v3.elements { patch(p, UInt32(fileTable - p)) }

        let start = Date()
        XCTAssertThrowsError(try ModelMetadata(data: b)) { error in
            guard case .malformed(let why)? = error as? ModelError else { return XCTFail("\(error)") }
            XCTAssertTrue(why.contains("more tables"), why)
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 10)
    }

    static let synthetic = [UInt8](hex:
        "1c0000004d3030311400240020001c001800140010000c0008000400140000002000000028000000800000008c00000094000000d0050000"
        + "d4050000e805000005000000312e352e30000000010000001400000000000e001800140010000f00080004000e0000001400000018000000"
        + "000000011800000020000000010000003300000002000000656e00000500000041626f757400000009000000524541444d452e6d64000000"
        + "0a0000004170616368652d322e300000060000004d61677069650000010000001c00000018002800240020001c001800140010000c000000"
        + "080004001800000024000000480000008c000000cc0000005c0100007c0100002c030000dc040000f00400000100000004000000acfbffff"
        + "080000000c00000004000000010203fa0500000065787472610000000100000004000000d4fbffff08000000280000000200000014000000"
        + "0400000007000000636c61737365730005000000626f78657300000009000000646574656374696f6e000000010000000400000030fcffff"
        + "080000000000000528fcffff0800000008000000000000000100000004000000d2ffffff040000000800000073702e6d6f64656c00000000"
        + "02000000480000000400000028feffff0c000000000406000800040006000000040000000100000004000000b6feffff0000000504000000"
        + "0e000000626572745f766f6361622e7478740000b8fcffff0800000000000006b0fcffff08000000280000000100000004000000f6feffff"
        + "000000050400000009000000766f6361622e747874000000050000005b202c5d2b000000010000000400000026ffffff0000000504000000"
        + "09000000766f6361622e7478740000000200000010010000180000000000120010000c00000000000800000000000400120000000c000000"
        + "bc000000cc00000004000000940000005c000000200000000400000086ffffff0000000304000000070000006964732e74787400d4ffffff"
        + "0c000000000000020c00000002000000667200000d0000006c6162656c735f66722e7478740000000c0010000c0000000b0004000c000000"
        + "0c000000000000020c00000002000000656e00000d0000006c6162656c735f656e2e747874000a000c000800000007000a00000000000004"
        + "040000000900000063616c69622e63737600000008feffff0c00000000000009040004000400000007000000636c61737365730000000e00"
        + "10000c0000000000080004000e0000000c0000003c00000088000000010000000c00000008000a0009000400080000000c00000000030600"
        + "0a000400060000000000003f00000a0010000f00080004000a00000014000000280000000000000308000e00080004000800000002000000"
        + "0200000000000a000c000800070006000a0000000000010104000000040000000100000000000000030000000200000005000000626f7865"
        + "730000000200000054000000100000000c000c0008000000000004000c000000080000001c000000fcfeffff0800000000000004f4feffff"
        + "02000000803e000005000000617564696f00000010001c001800140010000c0008000400100000001800000034000000b8000000e8000000"
        + "2c0100003801000038ffffff080000000c00000001000000000080bf020000000000803f00000040030000005c0000002000000004000000"
        + "7cffffff080000000000000288ffffff0000803e0000000294ffffff08000000000000018cffffff080000001400000003000000fa7e6a3e"
        + "4260653e6666663e03000000ec51f83ed578e93e3bdfcf3eccffffff0800000000000007c4ffffff080000000c0000000100000000001041"
        + "0100000000001041f4ffffff100000000000000208000c000b00040008000000100000000000000208000c000800040008000000f0000000"
        + "400100000400000038000000280000001800000004000000080000006368616e6e656c730000000005000000776964746800000006000000"
        + "68656967687400000500000062617463680000000a0000006772617920696d616765000006000000706978656c7300001100000074686520"
        + "6f6e6c79207375626772617068000000040000006d61696e0000000002000000763700001300000041206d6f64656c20666f722074657374"
        + "696e67000900000053796e746865746963000000"
    )
}
